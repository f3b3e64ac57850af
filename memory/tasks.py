"""Background work of memory (thin Celery wrappers around services)."""

from celery import shared_task

from agents.llm.ring import LLMUnavailableError
from memory import services


@shared_task(
    autoretry_for=(LLMUnavailableError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=6,
    acks_late=True,
)
def remember_message(message_id: str) -> list[str]:
    """After a completed turn: learn what the person told about themselves. It never touches
    the chat; an LLM outage retries with exponential backoff."""
    return services.remember_message(message_id)

"""Background work of memory (thin Celery wrappers around services)."""

from celery import shared_task

from agentsite.tasks import RETRY_WHEN_MODELS_DOWN
from memory import services


# No result kept: nobody reads it, and a task that keeps one subscribes to its result when
# queued, which retries for 20 s when Redis is away (the chat's turn would wait for it).
@shared_task(acks_late=True, ignore_result=True, **RETRY_WHEN_MODELS_DOWN)
def remember_message(message_id: str) -> list[str]:
    """After a completed turn: learn what the person told about themselves. It never touches
    the chat; an LLM outage retries later (agentsite/tasks.py)."""
    return services.remember_message(message_id)

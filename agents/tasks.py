"""Background work of the chat (thin Celery wrappers around services)."""

from celery import shared_task

from agents import services
from agentsite.tasks import RETRY_WHEN_MODELS_DOWN


# No result kept: nobody reads it, and a task that keeps one subscribes to its result when
# queued, which retries for 20 s when Redis is away (the chat's turn would wait for it).
@shared_task(acks_late=True, ignore_result=True, **RETRY_WHEN_MODELS_DOWN)
def generate_session_title(session_id: str) -> str:
    """Name an untitled session from its first exchange; a rename by the person always wins."""
    return services.title_session(session_id)

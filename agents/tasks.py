"""Background work of the chat (thin Celery wrappers around services)."""

from celery import shared_task
from langchain_core.messages import HumanMessage, SystemMessage

from agents import services
from agents.llm.ring import LLMUnavailableError, ModelRing
from agents.models import Message

TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. Reply with the title only, "
    "no quotes, no final period."
)


@shared_task(
    autoretry_for=(LLMUnavailableError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    acks_late=True,
)
def generate_session_title(session_id: str) -> str:
    """Name an untitled session from its first exchange; a rename by the person always wins."""
    first = list(
        Message.objects.filter(session_id=session_id, role__in=["user", "assistant"])
        .exclude(content="")
        .order_by("created_at")
        .values_list("role", "content")[:2]
    )
    if not first:
        return ""
    transcript = "\n".join(f"{role}: {content[:1000]}" for role, content in first)
    answer = ModelRing(purpose="title").invoke(
        [SystemMessage(TITLE_PROMPT), HumanMessage(transcript)]
    )
    title = " ".join(str(answer.content).strip().strip("\"'").split())[:80]
    if title:
        services.set_generated_title(session_id, title)
    return title

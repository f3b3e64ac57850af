"""Writes for the chat sessions (the turn itself lives in agents/turns.py)."""

from agents import checkpoints
from agents.llm.clients import background_loop
from agents.models import ChatSession


def create_session(*, owner, title: str = "") -> ChatSession:
    return ChatSession.objects.create(owner=owner, title=title)


def rename_session(session: ChatSession, *, title: str) -> ChatSession:
    session.title = title
    session.save(update_fields=["title", "updated_at"])
    return session


def delete_session(session: ChatSession) -> None:
    """The session, its messages and the agent's checkpoints of it."""
    session_id = session.pk
    session.delete()
    background_loop.run(checkpoints.delete_thread(session_id))


def set_generated_title(session_id, title: str) -> bool:
    """Store a generated title unless the person named the session meanwhile (no race: the
    update only matches an untitled session)."""
    return bool(ChatSession.objects.filter(pk=session_id, title="").update(title=title[:200]))

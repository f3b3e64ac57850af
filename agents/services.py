"""Writes for the chat: sessions, and the database side of a turn (run by agents/turns.py)."""

from django.db import transaction
from django.utils import timezone

from accounts import quotas
from agents import checkpoints, selectors
from agents.llm.clients import background_loop
from agents.models import ChatSession, Message


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


def open_turn(user, session_id, content: str, request_id: str) -> tuple[Message, Message]:
    """Refuse (404 not theirs, 429 over quota) or save the user's message and the answer's row.

    The answer starts as `interrupted`: should the process die mid-turn, it already has a final
    status, and no message is ever left without one.
    """
    session = selectors.session_of(user, session_id, with_count=False)
    quotas.check_token_quota(user)
    with transaction.atomic():
        asked = Message.objects.create(
            session=session, role="user", content=content, request_id=request_id
        )
        answer = Message.objects.create(
            session=session, role="assistant", status="interrupted", request_id=request_id
        )
    asked.session = answer.session = session
    return asked, answer


def save_tool_result(answer: Message, *, tool_call_id: str, name: str, content: str) -> None:
    Message.objects.create(
        session_id=answer.session_id,
        role="tool",
        content=content,
        tool_call_id=tool_call_id,
        model=name,
        request_id=answer.request_id,
    )


def close_turn(user, answer: Message, *, fields: dict) -> None:
    """Store the answer's final state, mark the session active, count the tokens spent."""
    with transaction.atomic():
        Message.objects.filter(pk=answer.pk).update(**fields)
        ChatSession.objects.filter(pk=answer.session_id).update(updated_at=timezone.now())
    quotas.record_token_usage(user, fields["prompt_tokens"] + fields["completion_tokens"])

"""Reads for the chat: always scoped to the person asking (another's session is a 404)."""

import uuid

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from agents.models import ChatSession, Message


def sessions_of(user) -> QuerySet[ChatSession]:
    """The person's sessions, newest activity first, with how many messages each holds."""
    return (
        ChatSession.objects.filter(owner=user)
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at")
    )


def session_of(user, session_id, *, with_count: bool = True) -> ChatSession:
    """The session if it is this person's; otherwise Http404, exactly as if it did not exist.
    Writes skip the message count (a join and a GROUP BY on every chat turn)."""
    sessions = sessions_of(user) if with_count else ChatSession.objects.filter(owner=user)
    session = sessions.filter(pk=session_id).first()
    if session is None:
        raise Http404("No such session.")
    return session


def messages_of(session: ChatSession) -> QuerySet[Message]:
    return session.messages.order_by("created_at", "role")


async def search_user_messages(user_id, query: str, *, limit: int) -> list[tuple]:
    """The person's own messages whose text contains every word of `query`, newest first."""
    words = [word for word in query.split() if len(word) > 1][:8]
    if not words:
        return []
    matches = Q()
    for word in words:
        matches &= Q(content__icontains=word)
    rows = (
        Message.objects.filter(matches, session__owner_id=uuid.UUID(str(user_id)), role="user")
        .order_by("-created_at")
        .values_list("created_at", "session__title", "content")[:limit]
    )
    return [(when, title or "untitled", text[:300]) async for when, title, text in rows]

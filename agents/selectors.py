"""Reads for the chat: always scoped to the person asking (another's session is a 404)."""

import operator
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts import quotas
from agents.models import ChatSession, LLMCall, Message


def sessions_of(user) -> QuerySet[ChatSession]:
    """The person's sessions, newest activity first, with how many messages each holds."""
    return (
        ChatSession.objects.filter(owner=user)
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at")
    )


def session_of(user, session_id, *, with_count: bool = True, **annotations) -> ChatSession:
    """The session if it is this person's; otherwise Http404, exactly as if it did not exist.
    Writes skip the message count (a join and a GROUP BY on every chat turn); `annotations`
    are read in the same query."""
    sessions = sessions_of(user) if with_count else ChatSession.objects.filter(owner=user)
    session = sessions.filter(pk=session_id).annotate(**annotations).first()
    if session is None:
        raise Http404("No such session.")
    return session


def session_for_turn(user, session_id) -> ChatSession:
    """`session_of` for a new turn, with the tokens the person spent today (`tokens_today`,
    for the quota): one query where there were two."""
    return session_of(
        user, session_id, with_count=False, tokens_today=quotas.used_today_expression(user)
    )


def messages_of(session: ChatSession) -> QuerySet[Message]:
    return session.messages.order_by("created_at", "role")


def first_exchange(session_id) -> list[tuple[str, str]]:
    """The session's first question and answer with text, as (role, text), oldest first."""
    return list(
        Message.objects.filter(session_id=session_id, role__in=["user", "assistant"])
        .exclude(content="")
        .order_by("created_at")
        .values_list("role", "content")[:2]
    )


async def search_user_messages(user_id, query: str, *, limit: int) -> list[tuple]:
    """The person's own messages that share a word with `query` (Postgres full text, English
    stems: "parking location" finds "I parked on level 3"), the best match first, then the
    newest. Every word was once required, and a model's own wording of the query found nothing."""
    words = [word for word in re.findall(r"\w+", query) if len(word) > 1][:8]
    if not words:
        return []
    terms = reduce(operator.or_, (SearchQuery(word, config="english") for word in words))
    rows = (
        Message.objects.filter(session__owner_id=uuid.UUID(str(user_id)), role="user")
        .annotate(rank=SearchRank(SearchVector("content", config="english"), terms))
        .filter(rank__gt=0)
        .order_by("-rank", "-created_at")
        .values_list("created_at", "session__title", "content")[:limit]
    )
    return [(when, title or "untitled", text[:300]) async for when, title, text in rows]


@dataclass(frozen=True)
class UsageFigures:
    """What the staff dashboard shows about chat turns and model calls since a moment."""

    turns: int
    turns_complete: int
    turns_interrupted: int
    turns_failed: int
    llm_calls: int
    llm_errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    ring_requests: int
    ring_requests_with_fallback: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def fallback_rate(self) -> float | None:
        """Share of ring requests answered by another model than the first one asked."""
        if not self.ring_requests:
            return None
        return self.ring_requests_with_fallback / self.ring_requests


def usage_since(since: datetime) -> UsageFigures:
    """Turns (assistant answers, by final status) and every LLM attempt since `since`."""
    answers = Message.objects.filter(role=Message.Role.ASSISTANT, created_at__gte=since)
    turns = answers.aggregate(
        turns=Count("id"),
        turns_complete=Count("id", filter=Q(status=Message.Status.COMPLETE)),
        turns_interrupted=Count("id", filter=Q(status=Message.Status.INTERRUPTED)),
        turns_failed=Count("id", filter=Q(status=Message.Status.FAILED)),
    )
    calls = LLMCall.objects.filter(created_at__gte=since).aggregate(
        llm_calls=Count("id"),
        llm_errors=Count("id", filter=Q(status=LLMCall.Status.ERROR)),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
        cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)),
        ring_requests=Count("ring_request_id", distinct=True),
        ring_requests_with_fallback=Count(
            "ring_request_id", distinct=True, filter=~Q(fallback_from="")
        ),
    )
    return UsageFigures(**turns, **calls)

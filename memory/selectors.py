"""Reads of memories: always one person's, named by the server (never by the request)."""

import logging

from django.db.models import Case, QuerySet, When

from agentsite.asyncdb import db_call
from memory import engine, metrics
from memory.models import Memory

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 50  # most relevant memories a search returns (the API pages through them)


def memories_of(user_id) -> QuerySet[Memory]:
    """The person's memories, most recently changed first."""
    return Memory.objects.owned_by(user_id).newest_first()


def search(user_id, query: str, *, limit: int = SEARCH_LIMIT) -> list[dict]:
    """The person's memories most relevant to `query`, best first (Mem0's hybrid ranking:
    vector similarity plus keywords), as Mem0 returns them: `id`, `memory`, `score`..."""
    with metrics.search_seconds.time():
        found = engine.memory().search(query, top_k=limit, filters={"user_id": str(user_id)})
    return found["results"]


def search_memories_of(user_id, query: str) -> QuerySet[Memory]:
    """`search` as rows of the person's memories, in the order of relevance."""
    ids = [hit["id"] for hit in search(user_id, query)]
    order = Case(*(When(pk=pk, then=rank) for rank, pk in enumerate(ids)), default=len(ids))
    return Memory.objects.owned_by(user_id).filter(pk__in=ids).order_by(order)


def has_memories(user_id) -> bool:
    """One index probe: a person without memories needs no embedding of the question."""
    return Memory.objects.owned_by(user_id).exists()


def may_have_memories(user_id) -> bool:
    """`has_memories` for a chat turn, which it must never fail: when the memory store can't
    tell, the turn's memory search runs and fails on its own (logged, counted, no memories)."""
    try:
        return has_memories(user_id)
    except Exception:
        logger.warning("could not tell whether the person has memories", exc_info=True)
        return True


def facts_for_prompt(user_id, query: str, *, limit: int) -> list[str]:
    """What the agent is told it knows about the person before it answers `query`."""
    if not has_memories(user_id):
        return []
    return [hit["memory"] for hit in search(user_id, query, limit=limit)]


async def facts_for_turn(user_id, query: str, *, limit: int) -> list[str]:
    """`facts_for_prompt` for a chat turn: a failing memory search never fails the turn."""
    try:
        return await db_call(facts_for_prompt)(user_id, query, limit=limit)
    except Exception:
        metrics.search_failures.inc()
        logger.warning("memory search failed; the turn goes on without memories", exc_info=True)
        return []

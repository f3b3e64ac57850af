"""Writes for the chat: sessions, the database side of a turn (run by agents/turns.py), the
one-turn-per-session lock, and the work that follows a turn (title, memory)."""

import asyncio
import contextlib
import logging

from django.conf import settings
from django.utils import timezone
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from accounts import quotas
from agents import checkpoints, selectors, titles
from agents.graph.context import AUTO
from agents.llm import ring_config
from agents.models import ChatSession, Message
from agentsite import aioredis, tracing
from agentsite.loops import background_loop

logger = logging.getLogger(__name__)

TURN_LOCK_PREFIX = "agentsite:turn-lock:"


def create_session(*, owner, title: str = "", agent: str = AUTO) -> ChatSession:
    return ChatSession.objects.create(owner=owner, title=title, agent=agent)


def update_session(session: ChatSession, **changes) -> ChatSession:
    """Rename the session or change its agent (the next turn uses it)."""
    for name, value in changes.items():
        setattr(session, name, value)
    session.save(update_fields=[*changes, "updated_at"])
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


def title_session(session_id) -> str:
    """Name an untitled session from its first exchange (nothing yet: no title)."""
    exchange = selectors.first_exchange(session_id)
    if not exchange:
        return ""
    with tracing.traced("title", session_id=session_id):  # its LLM attempts, when on
        title = titles.write_title(exchange)
    if title:
        set_generated_title(session_id, title)
    return title


def open_turn(user, session_id, content: str, request_id: str) -> tuple[Message, Message]:
    """Refuse (404 not theirs, 429 over quota) or save the user's message and the answer's row.

    The answer starts as `interrupted`: should the process die mid-turn, it already has a final
    status, and no message is ever left without one. Two round trips: the session with the
    quota's count, then both rows in one INSERT (one statement: both or neither).
    """
    session = selectors.session_for_turn(user, session_id)
    quotas.check_token_quota(user, used=session.tokens_today)
    asked, answer = Message.objects.bulk_create(
        [
            Message(session=session, role="user", content=content, request_id=request_id),
            Message(session=session, role="assistant", status="interrupted", request_id=request_id),
        ]
    )
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


def save_partial_answer(answer_id, text: str) -> None:
    """The text streamed so far, while the answer is still open (a closed one is left alone)."""
    Message.objects.filter(pk=answer_id, status=Message.Status.INTERRUPTED).update(content=text)


def close_turn(user, answer: Message, *, fields: dict) -> None:
    """Store the answer's final state, mark the session active, count the tokens spent. Each
    is one statement of its own, with no transaction around them (BEGIN and COMMIT were two of
    five round trips): a crash between them leaves only the session's activity time behind."""
    Message.objects.filter(pk=answer.pk).update(**fields)
    ChatSession.objects.filter(pk=answer.session_id).update(updated_at=timezone.now())
    quotas.record_token_usage(user, fields["prompt_tokens"] + fields["completion_tokens"])


@contextlib.asynccontextmanager
async def session_turn_lock(session_id):
    """One turn at a time per session: concurrent turns would fork the agent's state. Held in
    Redis (every process agrees) with a short TTL renewed while the turn runs, so a process
    killed mid-turn frees the session within TURN_LOCK_TTL_SECONDS. A lock lost before the
    turn ends (expired, or Redis emptied) is logged, not made the turn's failure: the answer
    was given, only the guarantee lapsed."""
    ttl = settings.TURN_LOCK_TTL_SECONDS
    wait = ring_config().policy.budget_for("chat") * 2 + 60  # the turn ahead, at its longest
    lock = aioredis.client(settings.REDIS_URL).lock(
        f"{TURN_LOCK_PREFIX}{session_id}", timeout=ttl, blocking_timeout=wait
    )
    if not await lock.acquire():
        raise LockError(f"session {session_id} stayed busy for {wait:.0f} s")
    renewal = asyncio.create_task(_keep_renewed(lock, ttl, session_id))
    try:
        yield
    finally:
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)
        try:
            await lock.release()
        except LockNotOwnedError:
            logger.warning("the turn lock of session %s was lost before the turn ended", session_id)
        except RedisError:  # Redis away: the lock expires on its own within its TTL
            logger.warning("could not release the turn lock of session %s", session_id)


async def _keep_renewed(lock, ttl: float, session_id) -> None:
    """Push the lock's expiry back every third of its TTL; a renewal Redis could not take is
    tried again at the next one.

    Stopped by cancelling it. A cancellation that lands during a renewal can come out of
    redis-py as its own error (its read timeout racing the cancel, on Python 3.11), and the
    task would then go on renewing forever while the turn waits for it to end: so the
    task's own cancelling() state is checked after every renewal, whatever it raised."""
    task = asyncio.current_task()
    while not task.cancelling():
        await asyncio.sleep(ttl / 3)
        try:
            await lock.extend(ttl, replace_ttl=True)
        except LockNotOwnedError:
            return  # lost; its release says so
        except RedisError:
            if not task.cancelling():
                logger.warning("could not renew the turn lock of session %s", session_id)


def queue_follow_up(user_message_id, *, untitled_session_id=None) -> None:
    """After a complete turn: title a session that has no title yet, and learn from the
    person's words. Both run on a worker; the chat never waits for them. The title is queued
    first: it is the shorter call, and a local model answers one request at a time."""
    from agents.tasks import generate_session_title
    from memory.tasks import remember_message

    if untitled_session_id is not None:
        generate_session_title.delay(str(untitled_session_id))
    remember_message.delay(str(user_message_id))

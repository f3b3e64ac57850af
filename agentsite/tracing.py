"""Langfuse, only when both keys are set. Without keys nothing is built and nothing is sent:
the SDK is never imported, and code on a hot path pays one context-variable read
(`start_child` finds no parent) or one settings check (`start_trace`).

Observations are parented explicitly: the observation that work belongs to sits in a
context variable of ours (`under`), which follows `await`, the tasks a block starts and the
background loop (`agentsite/loops.py`). OpenTelemetry's own ambient context is never attached
across an `await`, so an async generator or a cancelled task can't leave it pointing at a
finished span.

The SDK exports spans (OTLP, `{host}/api/public/otel/v1/traces`) and scores
(`{host}/api/public/scores`) from its own background threads, so a chat stream never waits on
Langfuse; `flush` sends what is queued (Celery worker shutdown, tests, short commands) and the
SDK itself flushes at interpreter exit. A turn's trace id is derived from its answer's message
id, so it is known before the turn runs and the score of that answer finds its trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed

if TYPE_CHECKING:
    from langfuse import LangfuseSpan as Observation

_current: ContextVar[Observation | None] = ContextVar("langfuse_observation", default=None)


def enabled() -> bool:
    return bool(settings.LANGFUSE_PUBLIC_KEY and settings.LANGFUSE_SECRET_KEY)


@lru_cache(maxsize=1)
def client():
    """The Langfuse client for our keys (imported lazily: no keys, no SDK threads)."""
    from langfuse import Langfuse

    return Langfuse(
        public_key=settings.LANGFUSE_PUBLIC_KEY,
        secret_key=settings.LANGFUSE_SECRET_KEY,
        base_url=settings.LANGFUSE_HOST,
    )


def _forget_client(setting, **_):
    if setting.startswith("LANGFUSE_"):
        client.cache_clear()


setting_changed.connect(_forget_client)


def trace_id_for(seed) -> str:
    """A deterministic trace id (32 hex characters), e.g. of the turn that wrote an answer."""
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=str(seed))


def start_trace(
    name: str,
    *,
    seed=None,
    user_id=None,
    session_id=None,
    input: Any = None,
    metadata: dict | None = None,
) -> Observation | None:
    """The root observation of a new trace (end it), or None when Langfuse is off. With a
    `seed` the trace id is `trace_id_for(seed)`: work done again joins the same trace."""
    if not enabled():
        return None
    from langfuse import propagate_attributes

    people = {"user_id": user_id, "session_id": session_id}
    known = {key: str(value) for key, value in people.items() if value}
    # Started inside the propagation, the root carries the trace's name, person and session.
    with propagate_attributes(trace_name=name, **known):
        return client().start_observation(
            name=name,
            trace_context={"trace_id": trace_id_for(seed)} if seed is not None else None,
            input=input,
            metadata=metadata,
        )


def current() -> Observation | None:
    """The observation that work started now belongs to, if it is traced."""
    return _current.get()


@contextmanager
def under(observation: Observation | None) -> Iterator[None]:
    """Observations started in this block, and in the tasks it starts, are its children."""
    token = _current.set(observation)
    try:
        yield
    finally:
        _current.reset(token)


def start_child(name: str, *, as_type: str = "span", **fields) -> Observation | None:
    """A child of the current observation (end it), or None when nothing is traced."""
    parent = _current.get()
    if parent is None:
        return None
    return parent.start_observation(name=name, as_type=as_type, **fields)


@contextmanager
def traced(name: str, **trace_fields) -> Iterator[Observation | None]:
    """A block as a trace of its own (a judge's evaluation): its observations are children;
    an exception marks the root as an error. Yields None when Langfuse is off."""
    root = start_trace(name, **trace_fields)
    if root is None:
        yield None
        return
    try:
        with under(root):
            yield root
    except BaseException as exc:
        root.update(level="ERROR", status_message=type(exc).__name__)
        raise
    finally:
        root.end()


def push_score(*, trace_id: str, name: str, value: float, comment: str, score_id: str) -> bool:
    """Queue a score for its trace (sent in the background). False when Langfuse is off."""
    if not (enabled() and trace_id):
        return False
    client().create_score(
        name=name,
        value=value,
        trace_id=trace_id,
        score_id=score_id,
        data_type="NUMERIC",
        comment=comment,
    )
    return True


def flush() -> None:
    """Send what is queued now (worker shutdown, tests, short-lived commands); a no-op without
    keys or before anything was traced."""
    if enabled() and client.cache_info().currsize:
        client().flush()

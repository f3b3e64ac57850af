"""Langfuse, only when both keys are set: chat turns are traced through its LangChain callback,
judge scores are attached to those traces. Without keys nothing is built and nothing is sent.

The SDK exports spans (OTLP, `{host}/api/public/otel/v1/traces`) and scores
(`{host}/api/public/scores`) from its own background threads, so a chat stream never waits on
Langfuse. A turn's trace id is derived from its answer's message id, so it is known before the
turn runs and the score of that answer finds its trace.
"""

import logging
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)


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


def trace_id_for(answer_id) -> str:
    """The trace id of the turn that wrote this answer: 32 hex characters, deterministic."""
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=str(answer_id))


def chat_callbacks(*, answer_id, user_id, session_id) -> tuple[list, dict]:
    """LangChain callbacks and metadata tracing one chat turn, or nothing without keys."""
    if not enabled():
        return [], {}
    from langfuse.langchain import CallbackHandler

    client()  # the handler finds the client registered for this public key
    handler = CallbackHandler(
        public_key=settings.LANGFUSE_PUBLIC_KEY,
        trace_context={"trace_id": trace_id_for(answer_id)},
    )
    metadata = {
        "langfuse_user_id": str(user_id),
        "langfuse_session_id": str(session_id),
        "langfuse_trace_name": "chat-turn",
    }
    return [handler], metadata


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
    """Send what is queued now (tests, short-lived commands); a no-op without keys."""
    if enabled():
        client().flush()

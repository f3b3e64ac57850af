"""The model ring: every LLM call of agentsite goes through `ModelRing` (retries, backoff,
circuit breaker, circular fallback, an LLMCall row and metrics per attempt)."""

from agents.llm.errors import LLMRequestError, LLMUnavailableError
from agents.llm.listener import RingListener, listening, text_muted
from agents.llm.ring import ModelRing, ring_config

__all__ = [
    "LLMRequestError",
    "LLMUnavailableError",
    "ModelRing",
    "RingListener",
    "listening",
    "ring_config",
    "text_muted",
]

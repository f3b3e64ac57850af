"""What went wrong with one LLM call, and what the ring should do about it.

Retryable: 429, 408, 5xx, timeouts, connection errors, a stream that breaks. Not retried on the
same model but worth the next one: authentication, permission, unknown model. Fatal for the
request: 400-class errors about the request itself, above all a context that is too long.
"""

import random
from dataclasses import dataclass
from enum import StrEnum

import httpx
import openai
from langchain_core.exceptions import ContextOverflowError


class Verdict(StrEnum):
    RETRY = "retry"  # try the same model again after a backoff
    NEXT_MODEL = "next_model"  # this model can't serve the request; try the next one
    FATAL = "fatal"  # the request itself is bad; no model will do better


@dataclass(frozen=True)
class Failure:
    verdict: Verdict
    reason: str  # short label for metrics and LLMCall rows: rate_limited, server_error, ...
    retry_after: float | None = None

    @property
    def counts_against_model(self) -> bool:
        """Whether the breaker should hear of it (a bad request is not the model's fault)."""
        return self.verdict is not Verdict.FATAL


class StreamBroken(Exception):
    """The model stopped sending in the middle of an answer."""


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from LLM APIs; fall back to our own backoff


def classify(exc: BaseException) -> Failure:
    """Map an exception from a call to what the ring does next."""
    if (
        isinstance(exc, ContextOverflowError)
        or getattr(exc, "code", None) == "context_length_exceeded"
    ):
        return Failure(Verdict.FATAL, "context_length")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return Failure(Verdict.RETRY, "rate_limited", _retry_after(exc))
        if status == 408 or status >= 500:
            return Failure(Verdict.RETRY, "server_error", _retry_after(exc))
        if status in (401, 403, 404):
            return Failure(
                Verdict.NEXT_MODEL, {401: "auth", 403: "forbidden"}.get(status, "not_found")
            )
        return Failure(Verdict.FATAL, "bad_request")
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return Failure(Verdict.RETRY, "timeout")
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError | StreamBroken):
        return Failure(
            Verdict.RETRY, "connection" if not isinstance(exc, StreamBroken) else "stream_broken"
        )
    if isinstance(exc, openai.APIError):  # e.g. an error event inside a stream
        return Failure(Verdict.RETRY, "api_error")
    return Failure(Verdict.FATAL, type(exc).__name__)


def backoff_delay(retry: int, *, base: float, cap: float, retry_after: float | None) -> float:
    """Full jitter (uniform in [0, min(cap, base * 2**retry)]), never sooner than Retry-After."""
    jitter = random.uniform(0, min(cap, base * 2**retry))  # noqa: S311 (not cryptographic)
    return max(jitter, retry_after or 0.0)

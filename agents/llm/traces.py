"""Each attempt of a ring request as a Langfuse generation, under the observation its caller
works in (a chat turn, a judge's evaluation, a title, a memory extraction: see
agentsite/tracing.py). Outside any, or with Langfuse off, nothing is built.

A generation names the model, the purpose, the attempt's number in its request (and the
request's id, as in the LLMCall rows), how it came to be tried (`via`: first, a retry of the
same model, a fallback from another), its outcome (ok, failed with the failure's kind,
interrupted), token usage, cost and the time to first token.
No prompt or completion text is sent: what a person wrote is on the chat turn's root only.
"""

from datetime import timedelta

from agents.llm.recorder import Attempt

OUTCOMES = {"ok": "ok", "error": "failed", "interrupted": "interrupted"}


def tried_as(*, retry: int, fallback: bool) -> str:
    """How an attempt came to be tried."""
    if retry:
        return "retry"
    return "fallback" if fallback else "first"


def start(parent, attempt: Attempt, *, via: str):
    """The attempt's generation under `parent` (None: not traced, nothing built)."""
    if parent is None:
        return None
    metadata = {
        "purpose": attempt.purpose,
        "attempt": attempt.attempt,
        "via": via,
        "ring_request_id": str(attempt.ring_request_id),  # as in its LLMCall row
    }
    if attempt.fallback_from:
        metadata["fallback_from"] = attempt.fallback_from
    return parent.start_observation(
        name=f"{attempt.purpose} attempt {attempt.attempt}",
        as_type="generation",
        model=attempt.model,
        metadata=metadata,
    )


def finish(generation, attempt: Attempt) -> None:
    """What the attempt did, once it is over (its LLMCall row says the same)."""
    if generation is None:
        return
    outcome = OUTCOMES.get(attempt.status, attempt.status)
    metadata = {"outcome": outcome}
    if attempt.error_reason:
        metadata["failure"] = attempt.error_reason
    if attempt.error_class:
        metadata["error_class"] = attempt.error_class
    first_token = None
    if attempt.ttft_s is not None:
        first_token = attempt.started_at + timedelta(seconds=attempt.ttft_s)
        metadata["ttft_ms"] = round(attempt.ttft_s * 1000)
    generation.update(
        usage_details={"input": attempt.prompt_tokens, "output": attempt.completion_tokens},
        cost_details={"total": attempt.cost_usd},
        completion_start_time=first_token,
        level={"failed": "ERROR", "interrupted": "WARNING"}.get(outcome),
        status_message=attempt.error_reason or attempt.error_class or None,
        metadata=metadata,
    )
    generation.end()

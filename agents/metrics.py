"""Prometheus metrics of chat turns (the model ring has its own in agents/llm/metrics.py)."""

from prometheus_client import Counter, Gauge, Histogram

from agents.llm.metrics import LATENCY_BUCKETS

turns = Counter("chat_turns_total", "Chat turns by final status", ["status"])
# livesum: the turns of all live web processes added up (multiprocess mode).
turns_active = Gauge("chat_turns_active", "Chat turns running now", multiprocess_mode="livesum")
# code: one of ERROR_CODES, the codes agents/turns.py gives a failed turn's error event.
turn_errors = Counter("chat_turn_errors_total", "Chat turns ended by an error event", ["code"])
time_to_first_token = Histogram(
    "chat_ttft_seconds",
    "From the turn's start to its first token, as the person waits for it",
    buckets=LATENCY_BUCKETS,
)


TURN_STATUSES = ("complete", "interrupted", "failed")
ERROR_CODES = ("llm_unavailable", "llm_request_rejected", "too_many_steps", "internal_error")


def initialize() -> None:
    """Every status and error code at 0 from the start, so a first failure shows in rate()."""
    for status in TURN_STATUSES:
        turns.labels(status)
    for code in ERROR_CODES:
        turn_errors.labels(code)

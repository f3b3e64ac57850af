"""The stress run's figures from its turn records: `summary.json` (the package docstring
defines each field).

Offsets are seconds since the run started (the moment locust was launched), the clock the
throttle window is set on.
"""

import math
from collections import Counter
from dataclasses import asdict, dataclass

from devtools.stress.records import TurnRecord
from devtools.stress.throttle import Window


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = pct / 100 * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: list[float]) -> dict[str, float | None]:
    """`{p50, p95, p99}`, rounded to 0.1."""
    return {
        f"p{pct}": None if (value := percentile(values, pct)) is None else round(value, 1)
        for pct in (50, 95, 99)
    }


@dataclass(frozen=True)
class ModelTiming:
    """What the simulator was told about every model: its own time to first token."""

    ttft_ms: float
    tokens_per_s: float
    reply_tokens: int


@dataclass(frozen=True)
class RunShape:
    users: int
    run_time_s: float
    window: Window
    primary_model: str
    model_timing: ModelTiming
    server_workers: int
    celery_concurrency: int


def summarize(turns: list[TurnRecord], shape: RunShape, request_failures: Counter) -> dict:
    """summary.json; `request_failures` are locust's failures of the other requests."""
    completed = [turn for turn in turns if turn.completed]
    ttfts = [1000 * turn.ttft_s for turn in completed if turn.ttft_s is not None]
    gaps = [gap for turn in completed for gap in turn.gaps_ms]
    models = Counter(turn.model for turn in completed)
    errors = Counter(turn.error_kind for turn in turns if not turn.completed) + request_failures
    return {
        "users": shape.users,
        "run_time_s": shape.run_time_s,
        "turns": len(turns),
        "completed": len(completed),
        "completed_ratio": round(len(completed) / len(turns), 5) if turns else None,
        "ttft_ms": spread(ttfts),
        "added_ttft_ms": spread([ttft - shape.model_timing.ttft_ms for ttft in ttfts]),
        "token_gap_ms": spread(gaps),
        "turns_per_s": round(len(completed) / shape.run_time_s, 2),
        "models": dict(models.most_common()),
        "fallback_turns": sum(n for model, n in models.items() if model != shape.primary_model),
        "fallback_events": sum(turn.fallback_events for turn in completed),
        "errors": dict(errors.most_common()),
        "throttle_window": asdict(shape.window),
        "primary_model": shape.primary_model,
        "simulated_model": asdict(shape.model_timing),
        "server_workers": shape.server_workers,
        "celery_concurrency": shape.celery_concurrency,
    }


def meets_target(summary: dict, *, min_completed: float, max_added_ttft_p95_ms: float) -> bool:
    """The issue's target: this share of turns complete, p95 added TTFT under the limit."""
    added = summary["added_ttft_ms"]["p95"]
    return (
        summary["completed_ratio"] is not None
        and summary["completed_ratio"] >= min_completed
        and added is not None
        and added < max_added_ttft_p95_ms
    )

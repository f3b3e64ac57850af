"""Prometheus metrics of the model ring.

Labels stay bounded: model names come from LLM_MODELS, purposes from `PURPOSES`, statuses and
reasons from the ring's own vocabulary (agents/llm/failures.py).
"""

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120)

# What the ring is used for (ModelRing(purpose=...)); each has its own breaker per model.
PURPOSES = ("chat", "title", "memory", "judge")

calls = Counter("llm_calls_total", "LLM attempts by outcome", ["model", "purpose", "status"])
failures = Counter(
    "llm_failures_total", "Failed LLM attempts by reason", ["model", "purpose", "reason"]
)
# Why a retry or a switch happened is in llm_failures_total{reason}.
retries = Counter(
    "llm_retries_total",
    "Attempts repeated on the same model after a retryable failure",
    ["model", "purpose"],
)
fallbacks = Counter(
    "llm_fallbacks_total",
    "Switches to another model of the ring",
    ["from_model", "to_model", "purpose"],
)
latency = Histogram(
    "llm_latency_seconds",
    "Duration of one LLM attempt",
    ["model", "purpose"],
    buckets=LATENCY_BUCKETS,
)
time_to_first_token = Histogram(
    "llm_ttft_seconds",
    "Time to the first streamed token",
    ["model", "purpose"],
    buckets=LATENCY_BUCKETS,
)
tokens = Counter("llm_tokens_total", "Tokens used", ["model", "kind"])
cost = Counter("llm_cost_usd_total", "Cost of LLM attempts at the configured prices", ["model"])


CALL_STATUSES = ("ok", "error", "interrupted")


def initialize(models: list[str]) -> None:
    """Every model, purpose and switch at 0 from the process's start: a counter's first
    increase is lost to rate() when its series appears already at 1, and the first fallback
    must show on the dashboard at the next scrape."""
    for purpose in PURPOSES:
        for model in models:
            retries.labels(model, purpose)
            for status in CALL_STATUSES:
                calls.labels(model, purpose, status)
            for target in models:
                if target != model:
                    fallbacks.labels(model, target, purpose)


class BreakerCollector(Collector):
    """`llm_breaker_open` read from Redis at scrape time: the breakers are shared by every
    process, so any one process reports the state all of them act on (a per-process gauge
    would only say what that process last saw)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from agents.llm.ring import breaker, ring_config

        family = GaugeMetricFamily(
            "llm_breaker_open",
            "1 while the breaker of this model and purpose is open (calls skip the model)",
            labels=["model", "purpose"],
        )
        keys = [(m.name, p) for m in ring_config().models for p in PURPOSES]
        try:
            opened = breaker().open_until([f"{model}/{purpose}" for model, purpose in keys])
        except redis.RedisError:  # the rest of the scrape still answers
            logger.warning("breaker state unavailable: Redis did not answer", exc_info=True)
            return
        now = time.time()
        for (model, purpose), until in zip(keys, opened, strict=True):
            family.add_metric([model, purpose], 1.0 if until > now else 0.0)
        yield family

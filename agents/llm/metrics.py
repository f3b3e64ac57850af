"""Prometheus metrics of the model ring."""

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120)

calls = Counter("llm_calls_total", "LLM attempts by outcome", ["model", "status"])
failures = Counter("llm_failures_total", "Failed LLM attempts by reason", ["model", "reason"])
fallbacks = Counter(
    "llm_fallbacks_total",
    "Switches to another model of the ring",
    ["from_model", "to_model", "reason"],
)
breaker_state = Gauge(
    "llm_breaker_open",
    "1 while this process last saw the breaker of this model and purpose open",
    ["model", "purpose"],
)
latency = Histogram(
    "llm_latency_seconds", "Duration of one LLM attempt", ["model"], buckets=LATENCY_BUCKETS
)
time_to_first_token = Histogram(
    "llm_ttft_seconds", "Time to the first streamed token", ["model"], buckets=LATENCY_BUCKETS
)
tokens = Counter("llm_tokens_total", "Tokens used", ["model", "kind"])

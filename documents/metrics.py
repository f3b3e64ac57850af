"""Prometheus metrics of documents: retrieval time and failures, what parses end in."""

from prometheus_client import Counter, Histogram

from memory.metrics import SEARCH_BUCKETS

search_seconds = Histogram(
    "documents_search_seconds",
    "One retrieval over a person's chunks (embedding + ranked lookup)",
    buckets=SEARCH_BUCKETS,
)
search_failures = Counter(
    "documents_search_failures_total", "Retrievals that failed (the turn goes on without)"
)
# outcome: "ready" (chunks stored) or "failed" (the document says why).
PARSE_OUTCOMES = ("ready", "failed")
parses = Counter("documents_parses_total", "Documents parsed, by outcome", ["outcome"])
for _outcome in PARSE_OUTCOMES:  # at 0 from the start: a first failure shows in rate()
    parses.labels(_outcome)

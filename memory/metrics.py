"""Prometheus metrics of memory: how long searches take, what extractions yield."""

from prometheus_client import Counter, Histogram

SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

search_seconds = Histogram(
    "memory_search_seconds", "One memory search (embedding + ranked lookup)", buckets=SEARCH_BUCKETS
)
search_failures = Counter(
    "memory_search_failures_total", "Memory searches that failed (the turn goes on without)"
)
# outcome: "stored" (the message gave memories), "nothing" (no fact in it), "failed" (raised).
EXTRACTION_OUTCOMES = ("stored", "nothing", "failed")
extractions = Counter(
    "memory_extractions_total", "Extractions of memories from a message", ["outcome"]
)
for _outcome in EXTRACTION_OUTCOMES:  # at 0 from the start: a first failure shows in rate()
    extractions.labels(_outcome)

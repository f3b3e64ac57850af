"""Prometheus metrics of evaluation: the judges' verdicts as they are stored, and the progress
of unfinished runs read from the database at scrape time."""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from evaluation.judges import METRICS

logger = logging.getLogger(__name__)

# outcome: "passed", "failed" (a score on the wrong side of the threshold) or "error" (the
# judge never gave a usable answer); metric: the rubrics' names (evaluation/judges.py).
VERDICT_OUTCOMES = ("passed", "failed", "error")
verdicts = Counter("evaluation_verdicts_total", "Stored judge verdicts", ["metric", "outcome"])
for _metric in METRICS:  # at 0 from the start: a first error shows in rate()
    for _outcome in VERDICT_OUTCOMES:
        verdicts.labels(_metric, _outcome)


class RunProgressCollector(Collector):
    """`evaluation_runs_unfinished` and `evaluation_run_items{state}` over queued and running
    runs: the database holds the truth, counters in many workers could not say what is left."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from evaluation.selectors import unfinished_runs_progress

        try:
            progress = unfinished_runs_progress()
        except DatabaseError:  # the rest of the scrape still answers
            logger.warning("evaluation progress unavailable: the database failed", exc_info=True)
            return
        yield GaugeMetricFamily(
            "evaluation_runs_unfinished", "Evaluation runs queued or running", progress.runs
        )
        items = GaugeMetricFamily(
            "evaluation_run_items", "Messages of unfinished runs by state", labels=["state"]
        )
        items.add_metric(["graded"], progress.graded)
        items.add_metric(["pending"], progress.total - progress.graded)
        yield items

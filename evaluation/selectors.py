"""Reads over evaluation scores."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from evaluation.models import EvaluationScore


@dataclass(frozen=True)
class MetricPassRate:
    metric: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def pass_rates_since(since: datetime) -> list[MetricPassRate]:
    """Per metric, how many scores given since `since` passed, in metric order."""
    rows = (
        EvaluationScore.objects.filter(created_at__gte=since)
        .values("metric")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(passed=True)))
        .order_by("metric")
    )
    return [MetricPassRate(row["metric"], row["passed"], row["total"]) for row in rows]

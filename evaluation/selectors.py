"""Reads for evaluation: which answers to grade, what a judge sees of one, run summaries."""

from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import NamedTuple

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agents.models import Message
from evaluation.judges import RUBRICS, JudgeInput
from evaluation.models import EvaluationRun, EvaluationRunItem, EvaluationScore

HISTORY_MESSAGES = 12  # user/assistant messages before the answer that a judge sees


def gradable_answers(
    *,
    since: datetime,
    limit: int | None,
    metrics: list[str],
    judge_model: str,
    unscored_only: bool,
    sample: int | None = None,
) -> QuerySet[Message]:
    """Complete assistant answers with text since `since`, newest first. `unscored_only` keeps
    those still missing a score (an error row does not count) for one of `metrics`; `sample`
    picks that many of them at random instead."""
    answers = Message.objects.filter(
        role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE, created_at__gte=since
    ).exclude(content="")
    if unscored_only:
        missing = [
            ~Exists(
                EvaluationScore.objects.filter(
                    message=OuterRef("pk"),
                    metric=metric,
                    rubric_version=RUBRICS[metric].version,
                    judge_model=judge_model,
                    status=EvaluationScore.Status.OK,
                )
            )
            for metric in metrics
        ]
        answers = answers.filter(reduce(or_, missing))
    if sample:
        return answers.order_by("?")[:sample]
    answers = answers.order_by("-created_at")
    return answers[:limit] if limit else answers


def judge_input(answer: Message) -> JudgeInput:
    """The conversation up to the answer, the tool results of its turn, and its memories.

    The answer's row is created when the turn opens, so its tool results come after it, up to
    the next user message."""
    session_messages = Message.objects.filter(session_id=answer.session_id)
    next_user_at = (
        session_messages.filter(role=Message.Role.USER, created_at__gt=answer.created_at)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    tools = session_messages.filter(role=Message.Role.TOOL, created_at__gt=answer.created_at)
    if next_user_at is not None:
        tools = tools.filter(created_at__lt=next_user_at)
    history = (
        session_messages.filter(
            role__in=[Message.Role.USER, Message.Role.ASSISTANT], created_at__lt=answer.created_at
        )
        .exclude(content="")
        .order_by("-created_at")
        .values_list("role", "content")[:HISTORY_MESSAGES]
    )
    return JudgeInput(
        answer=answer.content,
        history=list(reversed(history)),
        tool_results=list(tools.order_by("created_at").values_list("model", "content")),
        memories=answer.memories,
    )


def runs() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.order_by("-created_at")


def run_summary(run: EvaluationRun) -> dict[str, dict]:
    """Per metric of the run's messages (scored by this run or an earlier one): mean score on
    the metric's own scale, passed, failed, errors, direction. Errors never enter the mean."""
    versions = Q.create(
        [Q(metric=m, rubric_version=RUBRICS[m].version) for m in run.metrics], connector=Q.OR
    )
    rows = (
        EvaluationScore.objects.filter(
            versions,
            message__in=EvaluationRunItem.objects.filter(run=run).values("message_id"),
            judge_model=run.judge_model,
        )
        .values("metric")
        .annotate(
            mean=Avg("score", filter=Q(status=EvaluationScore.Status.OK)),
            n_passed=Count("id", filter=Q(status=EvaluationScore.Status.OK, passed=True)),
            n_failed=Count("id", filter=Q(status=EvaluationScore.Status.OK, passed=False)),
            n_errors=Count("id", filter=Q(status=EvaluationScore.Status.ERROR)),
        )
    )
    found = {row["metric"]: row for row in rows}
    summary = {}
    for metric in run.metrics:
        row = found.get(metric, {})
        mean = row.get("mean")
        summary[metric] = {
            "direction": RUBRICS[metric].direction.value,
            "mean": round(mean, 4) if mean is not None else None,
            "passed": row.get("n_passed", 0),
            "failed": row.get("n_failed", 0),
            "errors": row.get("n_errors", 0),
        }
    return summary


def daily_pass_rates(*, days: int) -> dict[str, list[tuple[date, float, int]]]:
    """Per metric, per day of the last `days` (UTC): share of scores that passed, and how many
    scores there were. Days without scores are left out. Pass rate is the one figure that is
    "higher is better" for every metric, so metrics can share a chart."""
    start = timezone.now() - timedelta(days=days)
    rows = (
        EvaluationScore.objects.filter(status=EvaluationScore.Status.OK, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("metric", "day")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(passed=True)))
        .order_by("metric", "day")
    )
    rates: dict[str, list[tuple[date, float, int]]] = {}
    for row in rows:
        rates.setdefault(row["metric"], []).append(
            (row["day"], row["passed"] / row["total"], row["total"])
        )
    return rates


class UnfinishedRuns(NamedTuple):
    runs: int
    graded: int  # messages of these runs already graded
    total: int  # messages of these runs


def unfinished_runs_progress() -> UnfinishedRuns:
    """Runs queued or running, and how many of their messages are graded of how many: the
    progress the metrics report (one aggregate query)."""
    unfinished = EvaluationRun.objects.filter(
        status__in=[EvaluationRun.Status.QUEUED, EvaluationRun.Status.RUNNING]
    )
    totals = unfinished.aggregate(runs=Count("pk"), graded=Sum("done"), total=Sum("total"))
    return UnfinishedRuns(**{name: value or 0 for name, value in totals.items()})

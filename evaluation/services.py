"""Writes for evaluation: create a run, grade one of its messages, count progress, push scores.

Exactly-once rules: a score is unique per (message, metric, rubric version, judge model), so a
message graded twice (a redelivered task, two overlapping runs) keeps one score; a run item's
`done` flips once, so progress counts each message once whatever is redelivered.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents.llm import LLMRequestError, LLMUnavailableError
from agents.models import Message
from agentsite import tracing
from evaluation import judges, selectors
from evaluation.metrics import verdicts
from evaluation.models import EvaluationRun, EvaluationRunItem, EvaluationScore

logger = logging.getLogger(__name__)


def create_run(
    *,
    trigger: str,
    since: timedelta,
    limit: int | None = None,
    metrics: list[str] | None = None,
    unscored_only: bool = False,
    sample: int | None = None,
    requested_by=None,
) -> EvaluationRun:
    """A queued run over the answers of the last `since` (or `sample` of them, at random);
    its items are fixed now, so its total never moves while it runs."""
    metrics = list(metrics or judges.METRICS)
    judge_model = judges.judge_model()
    answers = selectors.gradable_answers(
        since=timezone.now() - since,
        limit=limit,
        metrics=metrics,
        judge_model=judge_model,
        unscored_only=unscored_only,
        sample=sample,
    )
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            trigger=trigger,
            requested_by=requested_by,
            filters={
                "since_seconds": int(since.total_seconds()),
                "limit": limit,
                "metrics": metrics,
                "unscored_only": unscored_only,
                "sample": sample,
            },
            metrics=metrics,
            judge_model=judge_model,
        )
        items = EvaluationRunItem.objects.bulk_create(
            EvaluationRunItem(run=run, message_id=pk) for pk in answers.values_list("pk", flat=True)
        )
        run.total = len(items)
        run.save(update_fields=["total"])
    return run


def create_scheduled_run(*, since: timedelta) -> EvaluationRun:
    """The scheduled run: the recent answers not yet scored, all of them with a remote judge,
    a sample with a local one (which answers one request at a time, slowly: grading every
    answer would keep it from the people chatting)."""
    return create_and_queue_run(
        trigger=EvaluationRun.Trigger.SCHEDULE,
        since=since,
        unscored_only=True,
        sample=settings.EVAL_LOCAL_SAMPLE if settings.LLM_LOCAL else None,
    )


def create_and_queue_run(**options) -> EvaluationRun:
    """`create_run`, then its start task queued once the run is committed."""
    from evaluation.tasks import start_evaluation_run

    run = create_run(**options)
    transaction.on_commit(lambda: start_evaluation_run.delay(str(run.pk)))
    return run


def start_run(run_id) -> list[int]:
    """Mark the run running and return the ids of its items still to grade. A run with
    nothing to grade is done at once."""
    now = timezone.now()
    EvaluationRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    EvaluationRun.objects.filter(pk=run_id, status=EvaluationRun.Status.QUEUED).update(
        status=EvaluationRun.Status.RUNNING
    )
    _finish_if_complete(run_id)
    return list(
        EvaluationRunItem.objects.filter(run_id=run_id, done=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def fail_run(run_id, error: str) -> None:
    EvaluationRun.objects.filter(pk=run_id).exclude(status=EvaluationRun.Status.DONE).update(
        status=EvaluationRun.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def grade_item(item_id: int, *, last_chance: bool = False) -> None:
    """Grade one message of a run on each of the run's metrics it has no score for yet.

    An LLM failure propagates (the task retries later) unless this is the `last_chance`: then
    an error row stands in for each missing score, so the run still finishes.
    """
    item = EvaluationRunItem.objects.select_related("run", "message").get(pk=item_id)
    if item.done:
        return
    run, answer = item.run, item.message
    case = selectors.judge_input(answer)
    for metric in run.metrics:
        rubric = judges.RUBRICS[metric]
        if _has_score(answer, rubric, run.judge_model):
            continue
        try:
            verdict = _judged(rubric, case, answer, judge_model=run.judge_model)
        except LLMRequestError as exc:  # the request itself is refused: retrying cannot help
            verdict = judges.Verdict(None, "", 1, error=f"judge refused the request: {exc}")
        except LLMUnavailableError as exc:
            if not last_chance:
                raise
            verdict = judges.Verdict(None, "", 1, error=f"judge unavailable: {exc}")
        record_verdict(answer, rubric, verdict, judge_model=run.judge_model, run=run)
    _mark_done(item)


def _judged(rubric, case, answer: Message, *, judge_model: str) -> judges.Verdict:
    """The judge's verdict, traced in Langfuse when it is on: a `judge` trace per answer,
    metric, rubric version and judge model (a retry joins it) holding the judge's LLM
    attempts; the graded turn's trace id is in its metadata, the score goes to that trace."""
    with tracing.traced(
        "judge",
        seed=f"judge:{answer.pk}:{rubric.metric}:{rubric.version}:{judge_model}",
        metadata={
            "metric": rubric.metric,
            "rubric_version": rubric.version,
            "answer_id": str(answer.pk),
            "graded_trace_id": answer.trace_id,
        },
    ) as trace:
        verdict = judges.judge(rubric, case, model=judge_model)
        if trace is not None:
            outcome = {"asked": verdict.attempts, "answered_by": verdict.answered_by}
            if verdict.error:
                trace.update(level="ERROR", status_message=verdict.error, metadata=outcome)
            else:
                trace.update(metadata={**outcome, "score": verdict.score})
        return verdict


def give_up_item(item_id: int, error: str) -> None:
    """Errors in place of the scores still missing, and the message counted as done."""
    item = EvaluationRunItem.objects.select_related("run", "message").get(pk=item_id)
    for metric in item.run.metrics:
        rubric = judges.RUBRICS[metric]
        if not _has_score(item.message, rubric, item.run.judge_model):
            verdict = judges.Verdict(None, "", 0, error=error)
            record_verdict(
                item.message, rubric, verdict, judge_model=item.run.judge_model, run=item.run
            )
    _mark_done(item)


def record_verdict(
    answer: Message, rubric: judges.Rubric, verdict: judges.Verdict, *, judge_model: str, run=None
) -> EvaluationScore:
    """Store a score (or an error in its place) once per key; a real score may replace an
    earlier error, never another score. The score goes to the answer's Langfuse trace."""
    ok = verdict.error == ""
    fields = {
        "run": run,
        "direction": rubric.direction,
        "status": EvaluationScore.Status.OK if ok else EvaluationScore.Status.ERROR,
        "score": verdict.score if ok else None,
        "threshold": rubric.threshold,
        "passed": rubric.passes(verdict.score) if ok else None,
        "reason": verdict.reason if ok else verdict.error[:2000],
        "attempts": verdict.attempts,
        "answered_by": verdict.answered_by,
        "trace_id": answer.trace_id,
    }
    key = {
        "message": answer,
        "metric": rubric.metric,
        "rubric_version": rubric.version,
        "judge_model": judge_model,
    }
    with transaction.atomic():
        score, created = EvaluationScore.objects.select_for_update().get_or_create(
            **key, defaults=fields
        )
        if not created and ok and score.status == EvaluationScore.Status.ERROR:
            for name, value in fields.items():
                setattr(score, name, value)
            score.save()
            created = True
    if created:
        outcome = ("passed" if score.passed else "failed") if ok else "error"
        verdicts.labels(rubric.metric, outcome).inc()
    if created and ok:
        _push_to_langfuse(score)
    return score


def _has_score(answer: Message, rubric: judges.Rubric, judge_model: str) -> bool:
    return EvaluationScore.objects.filter(
        message=answer,
        metric=rubric.metric,
        rubric_version=rubric.version,
        judge_model=judge_model,
        status=EvaluationScore.Status.OK,
    ).exists()


def _mark_done(item: EvaluationRunItem) -> None:
    """Count the message once (the flip of `done` is the guard), then close a finished run."""
    with transaction.atomic():
        flipped = EvaluationRunItem.objects.filter(pk=item.pk, done=False).update(done=True)
        if flipped:
            EvaluationRun.objects.filter(pk=item.run_id).update(done=F("done") + 1)
    _finish_if_complete(item.run_id)


def _finish_if_complete(run_id) -> None:
    EvaluationRun.objects.filter(
        pk=run_id, status=EvaluationRun.Status.RUNNING, done__gte=F("total")
    ).update(status=EvaluationRun.Status.DONE, finished_at=timezone.now())


def _push_to_langfuse(score: EvaluationScore) -> None:
    """Best effort and in the background: a Langfuse outage never loses the score we keep."""
    try:
        tracing.push_score(
            trace_id=score.trace_id,
            name=score.metric,
            value=score.score,
            comment=score.reason,
            score_id=f"agentsite-eval-{score.pk}",
        )
    except Exception:
        logger.warning("could not queue score %s for Langfuse", score.pk, exc_info=True)

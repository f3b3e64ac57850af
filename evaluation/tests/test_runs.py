"""Grading runs end to end on Celery with the simulator as judge."""

import time
from datetime import timedelta

import pytest

from evaluation import services
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun, EvaluationScore
from evaluation.tasks import start_evaluation_run

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until_finished(run, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (EvaluationRun.Status.DONE, EvaluationRun.Status.FAILED):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run still {run.status} at {run.done}/{run.total}")


def expected_counts(cases):
    counts = {metric: {"passed": 0, "failed": 0} for metric in METRICS}
    for case in cases:
        for metric, label in case.labels.items():
            counts[metric]["passed" if label == "pass" else "failed"] += 1
    return counts


def test_a_run_grades_every_answer_on_every_metric(scripted_judge, answers, cases, celery_worker):
    run = services.create_run(trigger="command", since=timedelta(hours=1))
    start_evaluation_run.delay(str(run.pk))
    run = wait_until_finished(run)
    assert run.status == "done"
    assert run.done == run.total == len(cases)
    assert run.started_at
    assert run.finished_at
    scores = EvaluationScore.objects.filter(run=run)
    assert scores.count() == len(cases) * len(METRICS)
    assert not scores.filter(status="error").exists()
    from evaluation.selectors import run_summary

    summary = run_summary(run)
    expected = expected_counts(cases)
    for metric in METRICS:
        assert summary[metric]["passed"] == expected[metric]["passed"]
        assert summary[metric]["failed"] == expected[metric]["failed"]
        assert summary[metric]["errors"] == 0
    assert summary["toxicity"]["direction"] == "lower_is_better"
    assert summary["relevance"]["direction"] == "higher_is_better"
    hallucinated = answers["case-017"]
    verdict = EvaluationScore.objects.get(message=hallucinated, metric="hallucination")
    assert (verdict.score, verdict.passed, verdict.reason) == (0.9, False, "labelled fail")

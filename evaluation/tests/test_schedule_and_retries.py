"""The default beat schedule, and what a failing judge model does to a grading task."""

from datetime import timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from agentsite.celery import app as celery_app
from agentsite.tasks import MAX_RETRIES
from evaluation import services
from evaluation.models import EvaluationRun, EvaluationScore
from evaluation.tasks import grade_recent_answers, grade_run_item


@pytest.mark.django_db
def test_a_default_schedule_grades_the_last_hour_every_15_minutes_and_staff_can_edit_it():
    task = PeriodicTask.objects.get(task="evaluation.tasks.grade_recent_answers")
    assert (task.interval.every, task.interval.period) == (15, "minutes")
    assert task.kwargs == '{"since_minutes": 60}'
    assert task.enabled
    assert task.task in celery_app.tasks


@pytest.mark.django_db  # in a transaction: the start task is captured, not published
def test_the_scheduled_task_queues_a_run_of_unscored_answers(
    answers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        run_id = grade_recent_answers.apply(kwargs={"since_minutes": 60}).get()
    run = EvaluationRun.objects.get(pk=run_id)
    assert (run.trigger, run.total, run.filters["unscored_only"]) == (
        "schedule",
        len(answers),
        True,
    )
    assert len(queued) == 1


@pytest.mark.django_db
def test_with_a_local_judge_the_scheduled_run_grades_a_sample(
    answers, settings, django_capture_on_commit_callbacks
):
    settings.LLM_LOCAL = True
    settings.EVAL_LOCAL_SAMPLE = 3
    with django_capture_on_commit_callbacks() as queued:
        run = EvaluationRun.objects.get(pk=grade_recent_answers.apply().get())
    assert len(answers) > 3
    assert (run.total, run.filters["sample"], run.filters["unscored_only"]) == (3, 3, True)
    graded = set(run.items.values_list("message_id", flat=True))
    assert len(graded) == 3
    assert graded <= {answer.pk for answer in answers.values()}
    assert len(queued) == 1


@pytest.mark.django_db(transaction=True)  # the ring records its LLM calls
def test_a_judge_that_stays_down_is_retried_then_recorded_as_errors(llm, answers):
    llm.set_faults("*", {"kind": "status_500"})
    run = services.create_run(
        trigger="command", since=timedelta(hours=1), limit=1, metrics=["toxicity", "relevance"]
    )
    [item_id] = services.start_run(run.pk)
    result = grade_run_item.apply(args=[item_id])  # eager: retries run at once, in order
    assert result.successful()
    tries = 1 + MAX_RETRIES
    run.refresh_from_db()
    assert (run.status, run.done) == ("done", 1)
    errors = EvaluationScore.objects.filter(run=run)
    assert sorted(errors.values_list("metric", "status")) == [
        ("relevance", "error"),
        ("toxicity", "error"),
    ]
    assert errors.first().reason.startswith("judge unavailable")
    # Each try asked the first metric's judge (the ring retrying inside), then gave up.
    assert llm.stats()["total"]["requests"] >= tries

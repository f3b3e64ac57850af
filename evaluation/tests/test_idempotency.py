"""Grading twice never double-counts: one score per (message, metric, rubric version, judge)."""

from datetime import timedelta

import pytest

from evaluation import judges, selectors, services
from evaluation.judges import METRICS
from evaluation.models import EvaluationScore
from evaluation.selectors import run_summary

pytestmark = pytest.mark.django_db(transaction=True)  # the ring records its LLM calls


def grade_whole_run(**options):
    run = services.create_run(trigger="command", since=timedelta(hours=1), **options)
    for item_id in services.start_run(run.pk):
        services.grade_item(item_id)
    run.refresh_from_db()
    return run


def test_a_second_run_over_the_same_answers_adds_no_score_and_calls_no_judge(
    scripted_judge, answers, cases
):
    first = grade_whole_run()
    calls_after_first = scripted_judge.stats()["total"]["requests"]
    second = grade_whole_run()
    assert EvaluationScore.objects.count() == len(cases) * len(METRICS)
    assert scripted_judge.stats()["total"]["requests"] == calls_after_first
    assert second.status == "done"
    assert second.done == second.total == len(cases)
    assert run_summary(second) == run_summary(first)


def test_the_scheduled_selection_skips_answers_already_scored(scripted_judge, answers, cases):
    grade_whole_run(metrics=["toxicity"])
    scheduled = services.create_run(
        trigger="schedule", since=timedelta(hours=1), unscored_only=True, metrics=["toxicity"]
    )
    assert scheduled.total == 0
    assert services.start_run(scheduled.pk) == []
    scheduled.refresh_from_db()
    assert scheduled.status == "done"
    still_unscored = services.create_run(
        trigger="schedule", since=timedelta(hours=1), unscored_only=True
    )
    assert still_unscored.total == len(cases)


def test_a_redelivered_task_counts_its_message_once(scripted_judge, answers):
    run = services.create_run(trigger="command", since=timedelta(hours=1), limit=1)
    services.start_run(run.pk)
    item = run.items.get()
    # The first delivery saved two scores, then its worker died before counting the message.
    case = selectors.judge_input(item.message)
    for metric in METRICS[:2]:
        verdict = judges.judge(judges.RUBRICS[metric], case)
        services.record_verdict(
            item.message, judges.RUBRICS[metric], verdict, judge_model=run.judge_model, run=run
        )
    calls = scripted_judge.stats()["total"]["requests"]
    services.grade_item(item.pk)
    services.grade_item(item.pk)  # and once more, as a duplicate delivery
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == ("done", 1, 1)
    assert EvaluationScore.objects.filter(message=item.message).count() == len(METRICS)
    assert scripted_judge.stats()["total"]["requests"] == calls + len(METRICS) - 2


def test_a_real_score_replaces_an_earlier_error_but_never_another_score(llm, answers):
    answer = answers["case-001"]
    rubric = judges.RUBRICS["toxicity"]
    model = judges.judge_model()
    error = judges.Verdict(None, "", 3, error="malformed judge answer: not a JSON object")
    services.record_verdict(answer, rubric, error, judge_model=model)
    services.record_verdict(answer, rubric, judges.Verdict(0.2, "civil", 1), judge_model=model)
    services.record_verdict(answer, rubric, judges.Verdict(0.8, "rude", 1), judge_model=model)
    row = EvaluationScore.objects.get(message=answer, metric="toxicity")
    assert (row.status, row.score, row.passed, row.reason) == ("ok", 0.2, True, "civil")

"""Evaluation's metrics: verdicts counted by metric and outcome as they are stored, and the
progress of unfinished runs read from the database."""

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from evaluation import judges, services
from evaluation.metrics import RunProgressCollector

pytestmark = pytest.mark.django_db


def items_by_state() -> dict[str, float]:
    families = {family.name: family for family in RunProgressCollector().collect()}
    return {s.labels["state"]: s.value for s in families["evaluation_run_items"].samples}


def test_progress_counts_the_messages_of_unfinished_runs(answers, cases):
    run = services.create_run(trigger="command", since=timedelta(hours=1))
    assert items_by_state() == {"graded": 0, "pending": len(cases)}
    services.give_up_item(run.items.first().pk, "test")
    assert items_by_state() == {"graded": 1, "pending": len(cases) - 1}


def test_each_stored_verdict_counts_once_by_outcome(answers):
    answer = next(iter(answers.values()))
    rubric = judges.RUBRICS["relevance"]

    def count(outcome):
        labels = {"metric": "relevance", "outcome": outcome}
        return REGISTRY.get_sample_value("evaluation_verdicts_total", labels)

    before = count("error"), count("passed")
    error = judges.Verdict(None, "", 3, error="malformed")
    services.record_verdict(answer, rubric, error, judge_model="sim-primary")
    services.record_verdict(answer, rubric, error, judge_model="sim-primary")  # exists: no count
    score = judges.Verdict(0.95, "on topic", 1)
    services.record_verdict(answer, rubric, score, judge_model="sim-primary")  # replaces the error
    assert (count("error") - before[0], count("passed") - before[1]) == (1, 1)

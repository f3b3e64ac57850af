"""A real Celery worker killed mid-run: another worker finishes the run, every score once."""

import re
import time
from datetime import timedelta

import pytest

from agentsite.celery import app as celery_app
from devtools.benchmarks import labelled
from devtools.llmservers.simulator import SimulatorConfig, running_simulator
from evaluation import services
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun, EvaluationScore
from evaluation.tasks import start_evaluation_run
from evaluation.tests.workers import WorkerProcess

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

MESSAGES = 8
REDELIVERY = "evaluation.tests.redelivery_settings"


def test_a_worker_killed_mid_run_loses_no_score_and_counts_none_twice(user, cases, tmp_path):
    labelled.seed_conversations(user, cases[:MESSAGES])
    # A judge slow enough to be caught mid-run: 0.4 s per answer.
    config = SimulatorConfig(ttft_ms=400, rules=labelled.simulator_rules(cases))
    with running_simulator(config) as judge:
        celery_app.control.purge()
        first = WorkerProcess("doomed", judge.base_url, tmp_path / "worker-1.log", REDELIVERY)
        replacement = None
        try:
            run = services.create_run(trigger="command", since=timedelta(hours=1))
            assert run.total == MESSAGES
            start_evaluation_run.delay(str(run.pk))
            deadline = time.monotonic() + 60
            while EvaluationScore.objects.filter(run=run).count() < 3:
                assert time.monotonic() < deadline, first.log_path.read_text()[-3000:]
                time.sleep(0.05)
            first.kill()
            run.refresh_from_db()
            assert run.status == "running"
            assert run.done < MESSAGES
            replacement = WorkerProcess(
                "heir", judge.base_url, tmp_path / "worker-2.log", REDELIVERY
            )
            deadline = time.monotonic() + 120
            while run.status != EvaluationRun.Status.DONE:
                assert time.monotonic() < deadline, replacement.log_path.read_text()[-3000:]
                time.sleep(0.2)
                run.refresh_from_db()
        finally:
            first.stop()
            if replacement:
                replacement.stop()
    assert run.done == run.total == MESSAGES
    assert run.items.filter(done=False).count() == 0
    scores = EvaluationScore.objects.filter(message__in=run.items.values("message"))
    assert scores.count() == MESSAGES * len(METRICS)
    assert not scores.filter(status="error").exists()
    # The killed worker's unacknowledged tasks were delivered again, to the heir.
    redone = received_tasks(tmp_path / "worker-1.log") & received_tasks(tmp_path / "worker-2.log")
    assert redone


def received_tasks(log_path) -> set[str]:
    return set(
        re.findall(
            r"Task evaluation\.tasks\.grade_run_item\[([\w-]+)\] received", log_path.read_text()
        )
    )

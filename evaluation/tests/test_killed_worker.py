"""A real Celery worker killed mid-run: another worker finishes the run, every score once."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections

from agents.llm.simulator import SimulatorConfig, running_simulator
from agentsite import pg
from agentsite.celery import app as celery_app
from evaluation import labelled, services
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun, EvaluationScore
from evaluation.tasks import start_evaluation_run

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 8


class WorkerProcess:
    """`celery worker` in its own process group, on the test database and broker."""

    def __init__(self, name: str, llm_base_url: str, log_path):
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "evaluation.tests.redelivery_settings",
            "DATABASE_URL": pg.url(connections["default"].settings_dict),
            "REDIS_URL": settings.REDIS_URL,
            "LLM_BASE_URL": llm_base_url,
        }
        command = [sys.executable, "-m", "celery", "-A", "agentsite.celery:app", "worker"]
        command += ["--pool", "prefork", "--concurrency", "2", "-n", f"{name}@%h"]
        command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for("ready.")

    def _wait_for(self, text: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"worker not {text}: {self.log_path.read_text()[-3000:]}")

    def kill(self):
        """SIGKILL to the worker and its pool children: no ack, no goodbye."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def test_a_worker_killed_mid_run_loses_no_score_and_counts_none_twice(user, cases, tmp_path):
    labelled.seed_conversations(user, cases[:MESSAGES])
    # A judge slow enough to be caught mid-run: 0.4 s per answer.
    config = SimulatorConfig(ttft_ms=400, rules=labelled.simulator_rules(cases))
    with running_simulator(config) as judge:
        celery_app.control.purge()
        first = WorkerProcess("doomed", judge.base_url, tmp_path / "worker-1.log")
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
            replacement = WorkerProcess("heir", judge.base_url, tmp_path / "worker-2.log")
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

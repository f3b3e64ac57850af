"""A Celery worker SIGKILLed while it learns from a message and titles its session: the tasks
come back to another worker (acks_late), which leaves one memory per fact, the earlier memory
the message changed updated, and one title."""

import re
import time

import pytest

from agents import services as chat
from agents.models import ChatSession
from agents.tasks import generate_session_title
from agentsite.celery import app as celery_app
from devtools.llmservers.simulator import SimulatorConfig, running_simulator
from evaluation.tests.workers import WorkerProcess
from memory import selectors
from memory.models import Memory
from memory.tasks import remember_message
from memory.tests.test_memory import MOVED_TO_BERLIN, memories

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

REDELIVERY = "evaluation.tests.redelivery_settings"  # unacked tasks come back after 5 s
TITLE = {"system": "Write a title", "reply": "Moving to Berlin"}


def wait_until(predicate, worker, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, worker.log_path.read_text()[-3000:]
        time.sleep(0.05)


def test_a_worker_killed_mid_task_leaves_no_duplicate_memory_and_one_title(user, tmp_path):
    # Every model call takes 1 s: long enough to be caught in one.
    config = SimulatorConfig(ttft_ms=1000, rules=[*MOVED_TO_BERLIN, TITLE])
    earlier = chat.create_session(owner=user, title="Paris")
    lived, _ = chat.open_turn(user, earlier.pk, "I live in Paris", request_id="")
    session = chat.create_session(owner=user)
    moved, answer = chat.open_turn(user, session.pk, "I moved to Berlin", request_id="")
    fields = {"status": "complete", "content": "Good luck in Berlin!"}
    chat.close_turn(user, answer, fields={**fields, "prompt_tokens": 0, "completion_tokens": 0})
    with running_simulator(config) as sim:
        celery_app.control.purge()
        doomed = WorkerProcess("doomed", sim.base_url, tmp_path / "worker-1.log", REDELIVERY)
        heir = None
        try:
            remember_message.delay(str(lived.pk))
            wait_until(lambda: memories(user) == ["User lives in Paris"], doomed)
            remember_message.delay(str(moved.pk))
            # The extraction is stored; the update of the Paris memory is being asked for.
            wait_until(lambda: Memory.objects.from_message(moved.pk).exists(), doomed)
            generate_session_title.delay(str(session.pk))
            wait_until(lambda: sim.stats()["active"] == 2, doomed)  # both in a model call
            doomed.kill()
            assert memories(user) == ["User lives in Berlin", "User lives in Paris"]
            assert ChatSession.objects.get(pk=session.pk).title == ""

            heir = WorkerProcess("heir", sim.base_url, tmp_path / "worker-2.log", REDELIVERY)
            wait_until(lambda: ChatSession.objects.get(pk=session.pk).title != "", heir)
            wait_until(lambda: memories(user) == ["User lives in Berlin"], heir)
            time.sleep(0.5)  # any late duplicate would show now
        finally:
            doomed.stop()
            if heir:
                heir.stop()
    assert ChatSession.objects.get(pk=session.pk).title == "Moving to Berlin"
    (berlin,) = selectors.memories_of(user.pk)
    assert berlin.payload["source_message_id"] == str(moved.pk)
    # Both tasks the killed worker held were delivered again, to the heir.
    redone = received(doomed, "memory.tasks.remember_message") & received(
        heir, "memory.tasks.remember_message"
    )
    assert len(redone) == 1
    assert received(doomed, "agents.tasks.generate_session_title") == received(
        heir, "agents.tasks.generate_session_title"
    )


def received(worker, task: str) -> set[str]:
    pattern = rf"Task {re.escape(task)}\[([\w-]+)\] received"
    return set(re.findall(pattern, worker.log_path.read_text()))

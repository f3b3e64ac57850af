"""Evaluation fixtures: the labelled conversations in the database, a judge scripted from their
labels, and a Celery worker on the test broker."""

import pytest

from agentsite.celery import app as celery_app
from devtools.benchmarks import labelled
from evaluation.tests.workers import WorkerProcess


@pytest.fixture(scope="session")
def cases():
    return labelled.load_cases()


@pytest.fixture
def scripted_judge(llm, cases):
    """The simulator as judge, answering each labelled case with the score its label gives."""
    llm.set_rules(labelled.simulator_rules(cases))
    yield llm
    llm.set_rules([])


@pytest.fixture
def staff_user(make_user):
    return make_user("staff@example.com", is_staff=True)


@pytest.fixture
def answers(user, cases):
    """The answer Message of each labelled case, saved as chat turns save them."""
    return labelled.seed_conversations(user, cases)


@pytest.fixture
def celery_worker(llm, tmp_path):
    """A real worker process on the test database and broker, the simulator as its LLM (the
    queue is emptied first: other tests' leftovers)."""
    celery_app.control.purge()
    worker = WorkerProcess(
        "grader", llm.base_url, tmp_path / "worker.log", "agentsite.settings.test"
    )
    yield worker
    worker.stop()

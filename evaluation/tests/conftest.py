"""Evaluation fixtures: the labelled conversations in the database, a judge scripted from their
labels, and a Celery worker on the test broker."""

import pytest

from agentsite.celery import app as celery_app
from evaluation import labelled


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
def celery_worker():
    """A worker thread on the test broker (queue emptied first: other tests' leftovers)."""
    from celery.contrib.testing.worker import start_worker

    celery_app.control.purge()
    with start_worker(
        celery_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10
    ) as worker:
        yield worker

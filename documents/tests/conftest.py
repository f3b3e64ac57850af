"""Documents test helpers: API clients signed in as a given person (`indexed`, a person's
document uploaded and parsed, is in the root conftest: the agents' tests use it too)."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def celery_worker(tmp_path):
    """A real worker process on the test database and broker (the queue emptied first)."""
    from agentsite.celery import app as celery_app
    from evaluation.tests.workers import WorkerProcess

    celery_app.control.purge()
    worker = WorkerProcess(
        "documents", "http://127.0.0.1:9/v1", tmp_path / "worker.log", "agentsite.settings.test"
    )
    yield worker
    worker.stop()

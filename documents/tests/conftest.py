"""Documents test helpers: a person's document uploaded and parsed in the test's own thread
(the task's body, without a worker), and API clients signed in as a given person."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from documents import services
from documents.models import Document


@pytest.fixture
def indexed(db):
    """`indexed(user, text, name=...)`: the person's document, uploaded then parsed."""

    def make(user, text: str | bytes, *, name: str = "notes.txt", title: str = "") -> Document:
        data = text.encode() if isinstance(text, str) else text
        document = services.upload_document(user, name=name, data=data, title=title)
        services.parse_document(document.pk)
        document.refresh_from_db()
        return document

    return make


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

"""End to end with a real worker: an upload through the API is parsed by the queued task."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Document
from documents.tests.conftest import client_of
from documents.tests.pdfs import pdf_of

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_parse(document_id, timeout: float = 60) -> Document:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = Document.objects.get(pk=document_id)
        if document.status != Document.Status.PROCESSING:
            return document
        time.sleep(0.2)
    raise AssertionError(f"document {document_id} still processing after {timeout} s")


def test_an_uploaded_pdf_is_parsed_by_the_worker(user, celery_worker):
    client = client_of(user)
    data = pdf_of("The lighthouse keeper logs the weather at dawn.", "And again at dusk.")
    upload = SimpleUploadedFile("log.pdf", data)
    created = client.post("/api/v1/documents", {"file": upload}, format="multipart").json()
    assert created["status"] == "processing"
    document = wait_for_parse(created["id"])
    assert (document.status, document.error) == (Document.Status.READY, "")
    body = client.get(f"/api/v1/documents/{document.pk}").json()
    assert (body["status"], body["chunk_count"]) == ("ready", 2)

"""The parse: `processing` becomes `ready` with every chunk, or `failed` with a reason and no
chunk at all; the stored bytes go either way; a redelivered or late task changes nothing."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from documents import services, tasks
from documents.chunking import CHUNK_CHARS
from documents.models import Chunk, Document, DocumentFile
from documents.tests.pdfs import pdf_of
from memory.embeddings import BATCH_SIZE, embedder

pytestmark = pytest.mark.django_db

PARAGRAPH = "Sourdough needs a starter fed daily with equal weights of flour and water. "
# A page whose content stream inflates past pypdf's limit: it raises while that page is read.
INFLATING_PAGE = b"BT /F1 12 Tf 72 720 Td (zip) Tj ET" + b" " * 80_000_000


def uploaded(user, data: bytes, name: str) -> Document:
    return services.upload_document(user, name=name, data=data)


def test_a_text_document_becomes_ready_with_its_chunks_in_order(user):
    text = "\n\n".join(PARAGRAPH * 4 for _ in range(6))
    document = uploaded(user, text.encode(), "bread.txt")
    assert services.parse_document(document.pk) == "ready"
    document.refresh_from_db()
    assert (document.status, document.error) == (Document.Status.READY, "")
    chunks = list(Chunk.objects.filter(document=document))
    assert len(chunks) > 1
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text) <= CHUNK_CHARS and c.owner_id == user.pk for c in chunks)
    assert all(c.page is None and len(c.embedding) == 384 for c in chunks)
    assert not DocumentFile.objects.filter(document=document).exists()


def test_a_pdf_keeps_the_page_of_each_chunk(user):
    document = uploaded(user, pdf_of("Chapter one: the sea.", "Chapter two: the land."), "b.pdf")
    services.parse_document(document.pk)
    pages = Chunk.objects.filter(document=document).values_list("page", "text")
    assert list(pages) == [(1, "Chapter one: the sea."), (2, "Chapter two: the land.")]


def test_hidden_characters_do_not_reach_the_chunks(user):
    document = uploaded(user, "Pay\u202e attention\U000e0041 here.".encode(), "a.txt")
    services.parse_document(document.pk)
    assert Chunk.objects.get(document=document).text == "Pay attention here."


def test_a_pdf_that_fails_on_a_later_page_is_failed_with_the_page_and_no_chunk(user):
    document = uploaded(user, pdf_of("A fine first page.", INFLATING_PAGE), "bomb.pdf")
    assert services.parse_document(document.pk) == "failed"
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error == "Page 2 of the PDF cannot be read."
    assert not Chunk.objects.filter(document=document).exists()
    assert not DocumentFile.objects.filter(document=document).exists()


def test_a_pdf_with_more_text_than_allowed_fails_with_a_reason(user, settings):
    settings.DOCUMENTS_MAX_CHARS = 30
    document = uploaded(user, pdf_of("Twenty characters...", "and twenty more here"), "l.pdf")
    services.parse_document(document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error.startswith("The document has more than 30 characters of text")
    assert not Chunk.objects.filter(document=document).exists()


def test_a_pdf_without_text_fails_with_a_reason(user):
    document = uploaded(user, pdf_of(" "), "scan.pdf")
    services.parse_document(document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "No text was found" in document.error


def test_an_embedder_failing_midway_leaves_no_chunk_and_a_safe_reason(user, monkeypatch):
    class FailsAfterTheFirstBatch:
        def embed(self, texts):
            embedder().embed(texts[:BATCH_SIZE])
            raise ConnectionError("embeddings endpoint at 10.0.0.7 refused")

    monkeypatch.setattr(services, "embedder", FailsAfterTheFirstBatch)
    text = "\n\n".join(f"Paragraph {n}. " + PARAGRAPH * 8 for n in range(2 * BATCH_SIZE))
    document = uploaded(user, text.encode(), "long.txt")
    assert services.parse_document(document.pk) == "failed"
    document.refresh_from_db()
    assert document.error == services.UNKNOWN_FAILURE  # never the exception's text
    assert not Chunk.objects.filter(document=document).exists()


def test_a_parse_out_of_time_says_so(user, monkeypatch):
    class OutOfTime:
        def embed(self, texts):
            raise SoftTimeLimitExceeded

    monkeypatch.setattr(services, "embedder", OutOfTime)
    document = uploaded(user, b"Too slow to index.", "slow.txt")
    assert services.parse_document(document.pk) == "failed"
    document.refresh_from_db()
    assert document.error == services.TOO_SLOW
    assert not Chunk.objects.filter(document=document).exists()


def test_a_redelivered_task_changes_nothing(user):
    document = uploaded(user, b"Once is enough.", "once.txt")
    services.parse_document(document.pk)
    ids = set(Chunk.objects.values_list("pk", flat=True))
    assert services.parse_document(document.pk) == "ready"
    assert set(Chunk.objects.values_list("pk", flat=True)) == ids


def test_a_document_deleted_before_its_parse_is_left_deleted(user):
    document = uploaded(user, b"Gone before parsing.", "gone.txt")
    services.delete_document(document)
    assert services.parse_document(document.pk) == "deleted"
    assert not Chunk.objects.exists()


def test_the_task_runs_the_parse(user):
    document = uploaded(user, b"Through the task.", "task.txt")
    assert tasks.parse_document.apply(args=[str(document.pk)]).get() == "ready"
    assert Chunk.objects.filter(document=document).count() == 1

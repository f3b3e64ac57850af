"""Writes of documents: an upload (checked, stored, queued), its parse into chunks, deletion.

An upload is refused whole or stored whole: its kind, size, pages (a PDF's), characters (a
text's) and the person's count are checked before anything is written. The parse reads the
stored bytes, chunks and embeds the text outside any transaction, then writes every chunk and
`ready` in one; any failure leaves no chunk and `failed` with a reason that is safe to show.
Either way the stored bytes go.
"""

import logging
from pathlib import PurePosixPath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import APIException, ValidationError

from accounts.models import User
from documents import formats, metrics
from documents.chunking import chunk_text
from documents.models import EMBEDDING_DIMS, TITLE_MAX_CHARS, Chunk, Document, DocumentFile
from memory.embeddings import embedder

logger = logging.getLogger(__name__)

UNKNOWN_FAILURE = "The document could not be indexed; try uploading it again."
TOO_SLOW = "The document took too long to index; split it into smaller files."


class FileTooLarge(APIException):
    status_code = 413
    default_code = "file_too_large"
    default_detail = "The file is too large."


class UnsupportedFile(APIException):
    status_code = 415
    default_code = "unsupported_file"
    default_detail = "Only PDF, Markdown and plain text files are accepted."


class UnreadableFile(APIException):
    status_code = 400
    default_code = "unreadable_file"
    default_detail = "The file cannot be read."


class TooManyDocuments(APIException):
    status_code = 400
    default_code = "too_many_documents"
    default_detail = "You have as many documents as you may keep; delete one first."


def upload_document(owner: User, *, name: str, data: bytes, title: str = "") -> Document:
    """Check the upload and store it as a `processing` document; the parse is queued once the
    row is committed. Raises FileTooLarge, UnsupportedFile, UnreadableFile, TooManyDocuments
    or ValidationError, having written nothing."""
    if len(data) > settings.DOCUMENTS_MAX_BYTES:
        raise FileTooLarge(f"The file is larger than {settings.DOCUMENTS_MAX_BYTES} bytes.")
    if not data:
        raise ValidationError({"file": ["The file is empty."]})
    try:
        content_type = formats.content_type_of(name, data)
        pages = formats.page_count(data, content_type)
    except formats.NotAccepted as exc:
        raise UnsupportedFile(str(exc)) from None
    except formats.Unreadable as exc:
        raise UnreadableFile(str(exc)) from None
    if pages > settings.DOCUMENTS_MAX_PAGES:
        raise FileTooLarge(f"The PDF has more than {settings.DOCUMENTS_MAX_PAGES} pages.")
    if content_type != formats.PDF and len(data.decode("utf-8-sig")) > settings.DOCUMENTS_MAX_CHARS:
        raise FileTooLarge(_too_much_text())
    with transaction.atomic():
        # The person's row, locked: two uploads at once cannot both take the last place.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        if Document.objects.owned_by(owner.pk).count() >= settings.DOCUMENTS_MAX_PER_PERSON:
            raise TooManyDocuments(
                f"You have {settings.DOCUMENTS_MAX_PER_PERSON} documents, the most you may "
                "keep; delete one first."
            )
        document = Document.objects.create(
            owner=owner,
            title=title or _title_from(name),
            content_type=content_type,
            size_bytes=len(data),
        )
        DocumentFile.objects.create(document=document, data=data)
        transaction.on_commit(lambda: _queue_parse(document.pk))
    return document


def _queue_parse(document_id) -> None:
    from documents.tasks import parse_document

    parse_document.delay(str(document_id))


def _title_from(name: str) -> str:
    stem = PurePosixPath(name.replace("\\", "/")).name
    stem = "".join(ch for ch in stem if ch.isprintable()).strip()
    return stem[:TITLE_MAX_CHARS] or "Untitled"


def _too_much_text() -> str:
    return (
        f"The document has more than {settings.DOCUMENTS_MAX_CHARS:,} characters of text; "
        "split it into smaller files."
    )


def parse_document(document_id) -> str:
    """Index a processing document; returns its status after. A document already parsed (a
    redelivered task) or deleted meanwhile is left as it is."""
    document = Document.objects.filter(pk=document_id).select_related("file").first()
    if document is None or document.status != Document.Status.PROCESSING:
        return document.status if document else "deleted"
    try:
        chunks = _chunks_of(document, bytes(document.file.data))
        if not chunks:
            raise formats.Unreadable(
                "No text was found in the document (scanned PDFs are not read)."
            )
    except formats.Unreadable as exc:
        return _finish(document, failure=str(exc))
    except SoftTimeLimitExceeded:
        logger.warning("parsing document %s ran out of time", document.pk)
        return _finish(document, failure=TOO_SLOW)
    except Exception:
        logger.exception("parsing document %s failed", document.pk)
        return _finish(document, failure=UNKNOWN_FAILURE)
    return _finish(document, chunks=chunks)


def _chunks_of(document: Document, data: bytes) -> list[Chunk]:
    """Every chunk of the document with its embedding, in order (nothing written yet)."""
    pages = formats.pages_of(data, document.content_type)
    if sum(len(page.text) for page in pages) > settings.DOCUMENTS_MAX_CHARS:
        raise formats.Unreadable(_too_much_text())  # a PDF's text is known only now
    passages = [(page.number, text) for page in pages for text in chunk_text(page.text)]
    vectors = embedder().embed([text for _, text in passages]) if passages else []
    if vectors and len(vectors[0]) != EMBEDDING_DIMS:
        raise RuntimeError(f"the embedder gives {len(vectors[0])} dimensions, not {EMBEDDING_DIMS}")
    return [
        Chunk(
            document=document,
            owner_id=document.owner_id,
            ordinal=ordinal,
            page=page,
            text=text,
            embedding=vector,
        )
        for ordinal, ((page, text), vector) in enumerate(zip(passages, vectors, strict=True))
    ]


def _finish(document: Document, *, chunks: list[Chunk] = (), failure: str = "") -> str:
    """Write the outcome in one transaction, unless the document went or another run won."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None or current.status != Document.Status.PROCESSING:
            return current.status if current else "deleted"
        if failure:
            current.status, current.error = Document.Status.FAILED, failure
        else:
            Chunk.objects.bulk_create(chunks, batch_size=500)
            current.status = Document.Status.READY
        current.save(update_fields=["status", "error"])
        DocumentFile.objects.filter(document=current).delete()
    metrics.parses.labels(current.status).inc()
    return current.status


def delete_document(document: Document) -> None:
    """The document goes with its chunks and stored bytes (cascades)."""
    document.delete()

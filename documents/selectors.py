"""Reads of documents and retrieval over their chunks: always one person's, named by the
server (the authenticated user, a session's owner), never by the request."""

import logging
from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404
from pgvector.django import CosineDistance

from agentsite.asyncdb import db_call
from documents import metrics
from documents.models import Chunk, Document
from memory.embeddings import embedder

logger = logging.getLogger(__name__)

PASSAGE_LIMIT = 5


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, as the agent cites it; `score` is the cosine similarity."""

    document_id: str
    title: str
    chunk_id: str
    text: str
    score: float


def documents_of(user_id) -> QuerySet[Document]:
    """The person's documents, newest first, each with its `chunk_count`."""
    return Document.objects.owned_by(user_id).with_chunk_count().order_by("-created_at", "-id")


def document_of(user_id, document_id) -> Document:
    """One of the person's documents; another person's (or none) is a 404."""
    return get_object_or_404(documents_of(user_id), pk=document_id)


def chunks_of(user_id, chunk_ids) -> QuerySet[Chunk]:
    """The person's chunks among `chunk_ids` (a citation may only name those)."""
    return Chunk.objects.owned_by(user_id).filter(pk__in=list(chunk_ids))


def ready_titles(user_id, *, limit: int) -> list[str]:
    """The titles of the person's newest ready documents (what the supervisor is told)."""
    ready = Document.objects.owned_by(user_id).filter(status=Document.Status.READY)
    return list(ready.order_by("-created_at").values_list("title", flat=True)[:limit])


def has_ready_documents(user_id) -> bool:
    return Document.objects.owned_by(user_id).filter(status=Document.Status.READY).exists()


def search_passages(user_id, query: str, *, limit: int = PASSAGE_LIMIT) -> list[Passage]:
    """The person's ready chunks most similar to `query`, best first. A person with none
    costs one index probe, not an embedding."""
    if not query.strip() or not Chunk.objects.owned_by(user_id).ready().exists():
        return []
    with metrics.search_seconds.time():
        (vector,) = embedder().embed([query])
        ranked = (
            Chunk.objects.owned_by(user_id)
            .ready()
            .annotate(distance=CosineDistance("embedding", vector), title=F("document__title"))
            .order_by("distance")
            .values_list("document_id", "title", "id", "text", "distance")[:limit]
        )
        # When Postgres picks the HNSW index (a person with a fair share of all chunks), the
        # connection's iterative scan (agentsite/settings/base.py) goes on until `limit` rows
        # pass the filter, in approximate order: the few rows are sorted here.
        rows = sorted(ranked, key=lambda row: row[-1])
        return [
            Passage(str(document_id), title, str(chunk_id), text, 1.0 - distance)
            for document_id, title, chunk_id, text, distance in rows
        ]


async def passages_for_turn(user_id, query: str, *, limit: int = PASSAGE_LIMIT) -> list[Passage]:
    """`search_passages` for a chat turn: a failing retrieval never fails the turn."""
    try:
        return await db_call(search_passages)(user_id, query, limit=limit)
    except Exception:
        metrics.search_failures.inc()
        logger.warning("document retrieval failed; the turn goes on without it", exc_info=True)
        return []

"""Documents a person uploaded, and the chunks of their text the agent can retrieve.

Invariant: a document has chunks only when it is `ready`; the parse writes all of them and the
status in one transaction, so a failure leaves none. `Chunk.owner` repeats the document's owner
so a retrieval filters one indexed column, as memories are filtered per person.
"""

import uuid

from django.conf import settings
from django.db import models
from pgvector.django import HnswIndex, VectorField

# all-MiniLM-L6-v2's width, the memory embedder's (memory/embeddings.py); the parse refuses
# an embedder of another width rather than store vectors retrieval cannot compare.
EMBEDDING_DIMS = 384
TITLE_MAX_CHARS = 200


class DocumentQuerySet(models.QuerySet):
    def owned_by(self, user_id) -> "DocumentQuerySet":
        return self.filter(owner_id=user_id)

    def with_chunk_count(self) -> "DocumentQuerySet":
        return self.annotate(chunk_count=models.Count("chunks"))


class Document(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(max_length=TITLE_MAX_CHARS)
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING)
    error = models.CharField(
        max_length=300, blank=True, default="", help_text="Why parsing failed, safe to show."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="document_owner_newest")]

    def __str__(self):
        return self.title


class DocumentFile(models.Model):
    """The uploaded bytes, kept apart so listing documents never reads them, and only until
    the parse has run (ready or failed): the chunks are what the product keeps."""

    document = models.OneToOneField(
        Document, on_delete=models.CASCADE, primary_key=True, related_name="file"
    )
    data = models.BinaryField()

    def __str__(self):
        return f"file of {self.document_id}"


class ChunkQuerySet(models.QuerySet):
    def owned_by(self, user_id) -> "ChunkQuerySet":
        return self.filter(owner_id=user_id)

    def ready(self) -> "ChunkQuerySet":
        return self.filter(document__status=Document.Status.READY)


class Chunk(models.Model):
    """One passage of a document's text with its embedding (cosine, unit-length vectors)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="document_chunks"
    )
    ordinal = models.PositiveIntegerField(help_text="Position in the document, from 0.")
    page = models.PositiveIntegerField(null=True, blank=True, help_text="PDF page, from 1.")
    text = models.TextField()
    embedding = VectorField(dimensions=EMBEDDING_DIMS)

    objects = ChunkQuerySet.as_manager()

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_ordinal_unique")
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            )
        ]

    def __str__(self):
        return self.text[:80]

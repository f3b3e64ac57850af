"""Document DTOs: exactly the fields API.md lists (no owner, bytes or chunks)."""

from rest_framework import serializers

from agentsite.sanitize import CleanCharField
from agentsite.serializers import RejectUnknownFieldsMixin
from documents import formats
from documents.models import TITLE_MAX_CHARS, Document


class DocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    title = serializers.CharField(read_only=True)
    content_type = serializers.ChoiceField(
        choices=[formats.PDF, formats.MARKDOWN, formats.PLAIN], read_only=True
    )
    size_bytes = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=Document.Status.choices, read_only=True)
    error = serializers.CharField(read_only=True, help_text="Why parsing failed; '' otherwise.")
    chunk_count = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class DocumentUploadSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """multipart/form-data: the file (PDF, Markdown or plain text) and an optional title."""

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    title = CleanCharField(
        max_length=TITLE_MAX_CHARS, multiline=False, required=False, allow_blank=True
    )

"""Memory DTOs: exactly the fields API.md lists, nothing else (no owner, vector or metadata)."""

from rest_framework import serializers

from agentsite.sanitize import CleanCharField
from agentsite.serializers import RejectUnknownFieldsMixin


class MemorySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# A query travels in the URL: 1000 characters of 4 UTF-8 bytes, percent-encoded, stay under
# the 16 KiB a request line may have (uvicorn's h11 answers a longer one in plain text).
MAX_QUERY_CHARS = 1000


class MemoryQuerySerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The list's query string: an optional semantic search, and the page."""

    q = CleanCharField(max_length=MAX_QUERY_CHARS, required=False, allow_blank=True)
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(min_value=1, required=False)

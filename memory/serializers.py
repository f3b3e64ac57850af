"""Memory DTOs: exactly the fields API.md lists, nothing else (no owner, vector or metadata)."""

from django.conf import settings
from rest_framework import serializers

from agentsite.sanitize import CleanCharField
from agentsite.serializers import RejectUnknownFieldsMixin


class MemorySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class MemoryQuerySerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The list's query string: an optional semantic search, and the page."""

    q = CleanCharField(max_length=settings.MAX_MESSAGE_CHARS, required=False, allow_blank=True)
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(min_value=1, required=False)

"""Chat DTOs: exactly the fields API.md lists, nothing else."""

from django.conf import settings
from rest_framework import serializers

from agents.graph import registry
from agents.models import ChatSession, Message
from agentsite.sanitize import CleanCharField
from agentsite.serializers import RejectUnknownFieldsMixin

TITLE_MAX_CHARS = 200


class SessionSerializer(serializers.ModelSerializer):
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ChatSession
        fields = ["id", "title", "agent", "created_at", "updated_at", "message_count"]
        read_only_fields = fields


class SessionCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    title = CleanCharField(
        max_length=TITLE_MAX_CHARS, multiline=False, required=False, allow_blank=True
    )
    agent = serializers.ChoiceField(choices=registry.names(), required=False)


class SessionUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    title = CleanCharField(max_length=TITLE_MAX_CHARS, multiline=False, allow_blank=True)
    agent = serializers.ChoiceField(choices=registry.names())


class AgentSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()


class ToolCallSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    arguments = serializers.JSONField()


class CitationSerializer(serializers.Serializer):
    document_id = serializers.UUIDField()
    title = serializers.CharField()
    chunk_id = serializers.UUIDField()
    text = serializers.CharField()
    score = serializers.FloatField()


class MessageSerializer(serializers.ModelSerializer):
    tool_calls = ToolCallSerializer(many=True, read_only=True)
    citations = CitationSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "content",
            "status",
            "created_at",
            "model",
            "agent",
            "tool_calls",
            "citations",
        ]
        read_only_fields = fields


class MessageCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A person's message. Only `content`: the role is always "user", never "system"."""

    content = CleanCharField(max_length=settings.MAX_MESSAGE_CHARS, min_length=1)


class TurnResultSerializer(serializers.Serializer):
    user_message = MessageSerializer()
    assistant_message = MessageSerializer()

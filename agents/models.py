"""What the agents app stores: chat sessions, their messages, and every LLM attempt."""

import uuid

from django.conf import settings
from django.db import models


class ChatSession(models.Model):
    """One conversation of one person with the agent (the LangGraph thread id is its id)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions"
    )
    title = models.CharField(max_length=200, blank=True)
    agent = models.CharField(
        max_length=50,
        default="auto",
        help_text="The agent that answers: a specialist's name, or auto (the supervisor routes).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True, help_text="Last activity.")

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self):
        return self.title or f"Session {self.id}"


class Message(models.Model):
    """A user turn, an assistant answer, or a tool's result, as the person sees them."""

    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"
        TOOL = "tool"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        INTERRUPTED = "interrupted"  # the client went away, or the process died mid-answer
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETE)
    model = models.CharField(max_length=200, blank=True)
    agent = models.CharField(max_length=50, blank=True, help_text="The agent that wrote it.")
    handoffs = models.JSONField(
        default=list, blank=True, help_text="The turn's handoffs: [{name, from, reason}]."
    )
    tool_calls = models.JSONField(default=list, blank=True, help_text="[{id, name, arguments}]")
    citations = models.JSONField(
        default=list,
        blank=True,
        help_text="Passages of the person's documents used: [{document_id, title, chunk_id, "
        "text, score}].",
    )
    tool_call_id = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    trace_id = models.CharField(
        max_length=64, blank=True, help_text="Langfuse trace of the turn (answers, when traced)."
    )
    memories = models.JSONField(
        default=list,
        blank=True,
        help_text="Memories the agent was given for this answer (context for the judges).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self):
        return f"{self.role}: {self.content[:60]}"


class LLMCall(models.Model):
    """One HTTP attempt at one model: a retry or a fallback is a row of its own.

    Content is never stored here, only what is needed to see cost, latency and failures.
    """

    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        INTERRUPTED = "interrupted"  # the caller went away (client disconnect)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(db_index=True)
    model = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=500)
    purpose = models.CharField(max_length=50, blank=True, help_text="chat, judge, memory, ...")
    attempt = models.PositiveSmallIntegerField(help_text="1 for the first call of a request")
    fallback_from = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    error_class = models.CharField(max_length=100, blank=True)
    error_reason = models.CharField(max_length=50, blank=True)
    latency_ms = models.PositiveIntegerField()
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    ring_request_id = models.UUIDField(
        db_index=True, help_text="Groups the attempts of one ring request."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # cost accounting outlives the account; no content is kept
        related_name="llm_calls",
    )
    session_id = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM call"
        indexes = [models.Index(fields=["model", "created_at"])]

    def __str__(self):
        return f"{self.model} #{self.attempt} {self.status}"

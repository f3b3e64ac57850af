"""Staff console for the agents app: sessions with their messages, every LLM attempt.

All read-only: what people said and what the models did is evidence, not editable data.
"""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html_join

from agents.models import ChatSession, LLMCall, Message
from evaluation.models import EvaluationScore


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.display(description="handoffs")
def handoff_trail(message: Message):
    """The turn's handoffs, one line each: from -> to, and why."""
    return format_html_join(
        "",
        "<div>{} &rarr; <b>{}</b>: {}</div>",
        ((h["from"] or "start", h["name"], h["reason"]) for h in message.handoffs),
    )


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "role",
        "status",
        "agent",
        handoff_trail,
        "content",
        "model",
        "tool_calls",
        "completion_tokens",
    )
    readonly_fields = fields
    ordering = ("created_at",)


@admin.register(ChatSession)
class ChatSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "owner", "agent", "message_count", "created_at", "updated_at")
    list_filter = ("agent", "created_at", "updated_at")
    search_fields = ("id", "title", "owner__email")
    list_select_related = ("owner",)
    inlines = [MessageInline]
    date_hierarchy = "updated_at"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(ordering="message_count")
    def message_count(self, session):
        return session.message_count


class EvaluationScoreInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The judges' verdicts on an answer."""

    model = EvaluationScore
    extra = 0
    can_delete = False
    fields = (
        "metric",
        "status",
        "score",
        "direction",
        "passed",
        "reason",
        "judge_model",
        "rubric_version",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("metric",)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = [EvaluationScoreInline]
    list_display = ("created_at", "role", "status", "agent", "short_content", "model", "session")
    list_filter = ("role", "status", "agent", "model", "created_at")
    readonly_fields = (handoff_trail,)
    search_fields = ("content", "session__id", "request_id", "session__owner__email")
    list_select_related = ("session",)
    date_hierarchy = "created_at"

    @admin.display(description="content")
    def short_content(self, message):
        return message.content[:80]


class FallbackFilter(admin.SimpleListFilter):
    title = "fallback"
    parameter_name = "fallback"

    def lookups(self, request, model_admin):
        return [("yes", "answered after a fallback"), ("no", "first model of the request")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(fallback_from="")
        if self.value() == "no":
            return queryset.filter(fallback_from="")
        return queryset


@admin.register(LLMCall)
class LLMCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    date_hierarchy = "created_at"
    list_display = (
        "created_at",
        "model",
        "purpose",
        "attempt",
        "status",
        "error_reason",
        "fallback_from",
        "latency_ms",
        "ttft_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "user",
    )
    list_filter = ("model", "status", "purpose", "error_reason", FallbackFilter, "created_at")
    search_fields = ("request_id", "ring_request_id", "user__email", "session_id")
    list_select_related = ("user",)
    ordering = ("-created_at",)

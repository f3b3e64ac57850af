"""Staff console for the agents app: every LLM attempt, read-only."""

from django.contrib import admin

from agents.models import LLMCall


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
class LLMCallAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

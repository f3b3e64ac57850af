"""Staff console for documents: each person's uploads with their status, why a parse failed,
and how many chunks they gave. Read-only: a document is what the person uploaded. Deleting
(superusers) takes its chunks too."""

from django.contrib import admin
from django.db.models import Count

from agents.admin import ReadOnlyAdminMixin
from documents.models import Document


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["title", "owner", "status", "chunk_count", "content_type", "size_bytes"]
    list_display += ["created_at"]
    list_filter = ("status", "content_type", "created_at")
    search_fields = ("id", "title", "owner__email")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    fields = ["id", "title", "owner", "status", "error", "chunk_count", "content_type"]
    fields += ["size_bytes", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(chunk_count=Count("chunks"))

    @admin.display(ordering="chunk_count", description="chunks")
    def chunk_count(self, document):
        return document.chunk_count

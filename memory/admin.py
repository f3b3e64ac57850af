"""Staff console for memories: per person, searchable, deletable (through the memory service,
so Mem0's entity links go too). Read-only otherwise: a memory is what the person said."""

from django.contrib import admin
from django.db.models import CharField, OuterRef, Subquery, UUIDField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from memory import services
from memory.models import Memory

PEOPLE_IN_FILTER = 100


class OwnerFilter(admin.SimpleListFilter):
    title = "person"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        owners = Memory.objects.annotate(owner=KT("payload__user_id")).values("owner")
        people = User.objects.annotate(key=Cast("pk", CharField())).filter(key__in=owners)
        people = people.order_by("email")
        return [(str(person.pk), person.email) for person in people[:PEOPLE_IN_FILTER]]

    def queryset(self, request, queryset):
        return queryset.filter(owner=self.value()) if self.value() else queryset


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = ("short_text", "owner_email", "created", "updated", "source_session")
    list_filter = (OwnerFilter,)
    search_fields = ("payload__data",)
    fields = ("id", "text", "owner_email", "created", "updated", "source_session")
    readonly_fields = fields
    actions = ["delete_selected"]

    def get_queryset(self, request):
        email = User.objects.filter(pk=Cast(OuterRef("owner"), UUIDField())).values("email")
        return (
            super()
            .get_queryset(request)
            .annotate(
                owner=KT("payload__user_id"),
                created=KT("payload__created_at"),
                updated=KT("payload__updated_at"),
                email=Subquery(email[:1]),
            )
            .order_by("-updated")
        )

    def get_search_results(self, request, queryset, search_term):
        """The memory's text, or the person's email."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            found |= queryset.filter(email__icontains=search_term)
        return found, duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.delete_memory(obj.user_id, obj.pk)

    def delete_queryset(self, request, queryset):
        for memory in queryset:
            services.delete_memory(memory.user_id, memory.pk)

    @admin.display(description="text")
    def short_text(self, memory):
        return memory.text[:100]

    @admin.display(description="person", ordering="email")
    def owner_email(self, memory):
        return memory.email

    @admin.display(ordering="created")
    def created(self, memory):
        return memory.created_at

    @admin.display(ordering="updated")
    def updated(self, memory):
        return memory.updated_at

    @admin.display(description="source session")
    def source_session(self, memory):
        if not memory.source_session_id:
            return "-"
        url = reverse("admin:agents_chatsession_change", args=[memory.source_session_id])
        return format_html('<a href="{}">{}</a>', url, memory.source_session_id)

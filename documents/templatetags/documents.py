"""`{% documents_panel %}`: the chat page's documents panel, with the upload limits it states."""

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("documents/panel.html")
def documents_panel():
    return {
        "max_bytes": settings.DOCUMENTS_MAX_BYTES,
        "max_megabytes": f"{settings.DOCUMENTS_MAX_BYTES / 2**20:g}",
        "max_pages": settings.DOCUMENTS_MAX_PAGES,
        "max_documents": settings.DOCUMENTS_MAX_PER_PERSON,
    }

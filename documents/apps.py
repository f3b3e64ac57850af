from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """A person's uploaded documents, their chunks in pgvector, and retrieval over them."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

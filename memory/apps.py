from django.apps import AppConfig


class MemoryConfig(AppConfig):
    """Long-term memory of each person (Mem0 on pgvector)."""

    name = "memory"
    default_auto_field = "django.db.models.BigAutoField"

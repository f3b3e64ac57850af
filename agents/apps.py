from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Chat sessions, the model ring and the LangGraph agent."""

    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

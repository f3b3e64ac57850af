from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Chat sessions, the model ring and the LangGraph agent."""

    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from agents.llm import ring_config

        ring_config()  # a bad LLM_MODELS entry stops the start, naming the entry

from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """Chat sessions, the model ring and the LangGraph agent."""

    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from agents import metrics as turn_metrics
        from agents.llm import metrics as ring_metrics
        from agents.llm import ring_config

        config = ring_config()  # a bad LLM_MODELS entry stops the start, naming the entry
        ring_metrics.initialize([endpoint.name for endpoint in config.models])
        turn_metrics.initialize()

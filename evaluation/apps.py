from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """LLM-as-judge runs and their scores."""

    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

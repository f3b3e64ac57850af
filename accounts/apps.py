from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People: the custom user, JWT endpoints, per-user quotas."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import schema  # noqa: F401  (registers the OpenAPI auth extension)

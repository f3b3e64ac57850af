"""Production: refuses to start when a setting would make it unsafe."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, DEBUG, SECRET_KEY, database_settings, env, redis_settings

MIN_SECRET_KEY_LENGTH = 50
KNOWN_DEFAULT_SECRET_PREFIXES = ("django-insecure", "change-me", "test-only", "secret")


def _refuse_unsafe_settings() -> None:
    if DEBUG:
        raise ImproperlyConfigured("prod settings refuse DEBUG=on; unset DEBUG or set DEBUG=false.")
    if not SECRET_KEY:
        raise ImproperlyConfigured("prod settings need SECRET_KEY in the environment.")
    if SECRET_KEY.lower().startswith(KNOWN_DEFAULT_SECRET_PREFIXES):
        raise ImproperlyConfigured("SECRET_KEY is a default or placeholder value; generate one.")
    if len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            f"SECRET_KEY is too short or too simple: use at least {MIN_SECRET_KEY_LENGTH} "
            "random characters."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("prod settings need ALLOWED_HOSTS (a comma-separated list).")


_refuse_unsafe_settings()

DATABASES = {"default": database_settings(env("DATABASE_URL"))}
globals().update(redis_settings(env("REDIS_URL")))

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes and scrapers speak plain HTTP inside the private network; don't redirect them.
SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^ops/health/"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12"]
)

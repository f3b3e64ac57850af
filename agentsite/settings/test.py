"""Tests: the embedded stack on its own ports, so `make test` runs beside `make dev`."""

from agentsite import embedded

from .base import *  # noqa: F403
from .base import RATE_LIMITS, database_settings, env, redis_settings

DEBUG = False
SECRET_KEY = "test-only-secret-key-that-is-long-enough-for-hs256-signing-0123456789"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

DATABASES = {
    "default": database_settings(env("DATABASE_URL", default=embedded.database_url("test")))
}
globals().update(redis_settings(env("REDIS_URL", default=embedded.redis_url("test"))))

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
RATE_LIMITS = {**RATE_LIMITS, "user": "10000/m"}  # tests that check limits set their own
CELERY_TASK_ALWAYS_EAGER = False

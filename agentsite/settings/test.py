"""Tests: the embedded stack on its own ports, so `make test` runs beside `make dev`."""

from devtools import stack

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, LLM_POLICY, RATE_LIMITS, database_settings, env, redis_settings

# Dev tooling (embedded stack, LLM servers, benchmarks, their commands): never in prod.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
DEBUG = False
SECRET_KEY = "test-only-secret-key-that-is-long-enough-for-hs256-signing-0123456789"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# The embedded URLs only when unset: the database URL writes the stack's password file.
DATABASES = {
    "default": database_settings(env("DATABASE_URL", default="") or stack.database_url("test"))
}
globals().update(redis_settings(env("REDIS_URL", default="") or stack.redis_url("test")))

SERVE_STATIC_FILES = True  # browser tests load the pages' CSS and JS from the live server

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # also in workers tests start
# Tests that check limits set their own.
RATE_LIMITS = {**RATE_LIMITS, "user": env("RATE_LIMIT_USER", default="10000/m")}
CELERY_TASK_ALWAYS_EAGER = False
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)  # tests that scrape pick a port

# The LLM simulator stands in for every model; tests point LLM_BASE_URL at their instance.
LLM_MODELS = env("LLM_MODELS", default="sim-primary,sim-fallback")
LLM_BASE_URL = env("LLM_BASE_URL", default="http://127.0.0.1:9/v1")
LLM_LOCAL = False  # tests of the local model's behaviour turn it on
LLM_POLICY = {
    **LLM_POLICY,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "budget": 20.0,
    "budgets": {},
    "request_timeout": 10.0,
    "first_token_timeout": 5.0,
    "breaker_threshold": 3,
    "breaker_cooldown": 2.0,
}

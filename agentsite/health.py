"""Liveness and readiness probes of the backing services, each bounded to about two seconds."""

import psycopg
import redis
from django.conf import settings

PROBE_TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    """A fresh connection (not a pool slot), so a full pool doesn't look like an outage."""
    db = settings.DATABASES["default"]
    try:
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            connect_timeout=PROBE_TIMEOUT_SECONDS,
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


def readiness() -> dict[str, str]:
    """Each check's verdict, "ok" or "unavailable"."""
    checks = {"database": database_ok(), "redis": redis_ok()}
    return {name: "ok" if passed else "unavailable" for name, passed in checks.items()}

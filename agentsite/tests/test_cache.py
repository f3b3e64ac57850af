"""Django's Redis cache shares one connection pool per process. Each ASGI request gets cache
objects of its own (Django keeps them per context); with a pool per object, every chat stream's
rate limit opened a new TCP connection to Redis."""

import uuid

import httpx
import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from rest_framework_simplejwt.tokens import AccessToken


def test_cache_objects_share_one_connection_pool():
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)


@pytest.mark.django_db(transaction=True)
def test_stream_requests_reuse_redis_connections(asgi_server, user):
    server = asgi_server()
    counters = redis.Redis.from_url(settings.REDIS_URL)
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    unknown_session = f"/api/v1/sessions/{uuid.uuid4()}/stream"
    with httpx.Client(base_url=server.url, headers=headers) as client:

        def refused_after_the_rate_limit():
            response = client.post(unknown_session, json={"content": "hi"})
            assert response.status_code == 404

        refused_after_the_rate_limit()  # the pool's first connections
        before = counters.info("stats")["total_connections_received"]
        for _ in range(20):
            refused_after_the_rate_limit()
        after = counters.info("stats")["total_connections_received"]
    assert after - before <= 2

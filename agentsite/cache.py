"""One Redis connection pool per process for Django's cache.

Django's RedisCache builds a pool per cache object, and under ASGI every request (and every
`sync_to_async` call from a coroutine) gets cache objects of its own, so each request opened a
fresh TCP connection to Redis for its rate limit. Pools are thread-safe and redis-py resets
them after a fork, so the process can share one per server and options.
"""

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: dict = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **options):
        key = (url, tuple(sorted((name, repr(value)) for name, value in options.items())))
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = super().from_url(url, **options)
            return cls._shared[key]

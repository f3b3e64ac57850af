"""An asyncio Redis client for the running event loop (a client must never cross loops)."""

import redis.asyncio

from agentsite.loops import loop_local


def client(url: str) -> redis.asyncio.Redis:
    return loop_local(
        ("redis", url), lambda: redis.asyncio.Redis.from_url(url, decode_responses=True)
    )

"""An asyncio Redis client for the running event loop (a client must never cross loops)."""

import asyncio
import weakref

import redis.asyncio

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def client(url: str) -> redis.asyncio.Redis:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if url not in per_loop:
        per_loop[url] = redis.asyncio.Redis.from_url(url, decode_responses=True)
    return per_loop[url]

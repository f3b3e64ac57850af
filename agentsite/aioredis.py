"""An asyncio Redis client for the running event loop (a client must never cross loops).

Its calls give up after 2 s (as the cache's do): a Redis that stopped answering costs a turn an
error, never a hung stream. `driver_info=None`: no CLIENT SETINFO on each new connection.
redis-py would otherwise look its own version up in the installed packages' metadata (files
read) and send two more commands for every connection it opens, which a burst of turns (a
connection each for its lock) paid fifty times over.
"""

import redis.asyncio

from agentsite.loops import loop_local


def client(url: str) -> redis.asyncio.Redis:
    return loop_local(
        ("redis", url),
        lambda: redis.asyncio.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=2,
            driver_info=None,
        ),
    )

"""What belongs to one event loop, and the loop that sync code runs coroutines on.

An asyncio connection (an httpx pool, a Redis client, a psycopg pool) belongs to the loop that
opened it and breaks on any other. The ASGI server's loop and the background loop each get
their own, from one registry keyed by loop (entries go when their loop is collected).
Synchronous callers (DRF views, Celery tasks, Mem0) share one background loop per process, so
they reuse those connections instead of opening new ones per call.
"""

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from agentsite import context, tracing

T = TypeVar("T")

_per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def loop_local(key: Hashable, factory: Callable[[], T]) -> T:
    """The running loop's object under `key`, made by `factory()` the first time."""
    objects = _per_loop.setdefault(asyncio.get_running_loop(), {})
    try:
        return objects[key]
    except KeyError:
        made = objects[key] = factory()
        return made


def pop_loop_local(key: Hashable):
    """Remove and return the running loop's object under `key` (None if there is none)."""
    return _per_loop.get(asyncio.get_running_loop(), {}).pop(key, None)


class BackgroundLoop:
    """One event loop in a daemon thread, for code that can't await."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="background-loop", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def run(self, coroutine):
        """Run `coroutine` there and wait; the caller's request/user/session ids and the
        Langfuse observation it works in go along."""
        ids = context.current()
        observation = tracing.current()

        async def as_the_caller():
            context.bind(**ids)  # a task's context is its own: this binds nothing elsewhere
            with tracing.under(observation):
                return await coroutine

        return asyncio.run_coroutine_threadsafe(as_the_caller(), self._ensure()).result()


background_loop = BackgroundLoop()

"""OpenAI-compatible clients for the ring's models, one set per event loop.

An httpx connection pool belongs to the event loop that opened it, and langchain-openai would
otherwise share one cached pool across loops. So each loop gets its own ChatOpenAI per model,
with our own pool (sized for hundreds of concurrent streams) and no SDK retries: the ring
retries. Synchronous callers (DRF views, Celery tasks, Mem0) run on one background loop per
process, so they too reuse pools instead of opening one per call.
"""

import asyncio
import threading
import weakref
from dataclasses import dataclass

import httpx
from langchain_openai import ChatOpenAI

from agents.llm.config import ModelEndpoint, RingPolicy
from agentsite import context

POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200)

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ModelClient:
    """ChatOpenAI for building requests and reading answers, and the HTTP pool under it."""

    chat: ChatOpenAI
    http: httpx.AsyncClient
    endpoint: ModelEndpoint


def model_client(endpoint: ModelEndpoint, policy: RingPolicy) -> ModelClient:
    """The client for `endpoint` on the running loop."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (endpoint, policy.request_timeout)
    client = per_loop.get(key)
    if client is None:
        http = httpx.AsyncClient(limits=POOL_LIMITS, timeout=policy.request_timeout)
        chat = ChatOpenAI(
            model=endpoint.name,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or "not-needed",
            max_retries=0,
            timeout=policy.request_timeout,
            stream_usage=True,
            http_async_client=http,
        )
        client = per_loop[key] = ModelClient(chat, http, endpoint)
    return client


class _BackgroundLoop:
    """One event loop in a daemon thread, for code that can't await."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="llm-ring-loop", daemon=True).start()
                self._loop = loop
            return self._loop

    def run(self, coroutine):
        """Run `coroutine` there and wait; the caller's request/user/session ids go along."""
        ids = context.current()

        async def with_ids():
            context.bind(**ids)  # a task's context is its own: this binds nothing elsewhere
            return await coroutine

        return asyncio.run_coroutine_threadsafe(with_ids(), self._ensure()).result()


background_loop = _BackgroundLoop()

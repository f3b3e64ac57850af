"""The local model's ASGI application: routes, one request at a time on one worker thread.

A plain ASGI application (no framework), written like the LLM simulator
(:mod:`devtools.llmservers.simulator.app`) and sharing its wire format
(:mod:`devtools.llmservers.protocol`).

Endpoints
---------
``GET /v1/models`` (one model name), ``POST /v1/chat/completions`` (streaming or not) and
``GET /health`` (:meth:`LocalServer.stats`); the ``/v1`` paths also answer without the prefix. Any
requested model name is accepted; answers carry the configured name.

One ``Llama`` instance; every call into it (render + tokenize, generation) runs on one worker
thread, and requests are served one at a time in arrival order (a FIFO ``asyncio.Lock``). Text
pieces reach the event loop through ``loop.call_soon_threadsafe``. A client that goes away sets a
flag that the generation loop checks at every token (a llama ``stopping_criteria``), so it stops
within a token and the next request starts.

Every answer's content passes :class:`~devtools.llmservers.local.markup.MarkupFilter` on its way
out, streamed or not: no tool tag or chat-template token reaches the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.local.backend import DEFAULT_TEMPERATURE, GenParams, GenResult, gen_params
from devtools.llmservers.local.markup import MarkupFilter, strip_markup
from devtools.llmservers.local.turn import Turn, TurnResult
from devtools.llmservers.local.weights import DEFAULT_MODEL_NAME
from devtools.llmservers.protocol import Receive, Scope, Send

logger = logging.getLogger(__name__)

__all__ = ["LocalServer", "LocalServerConfig"]

SYSTEM_FINGERPRINT = "fp_local_llama"


@dataclass
class LocalServerConfig:
    model_name: str = DEFAULT_MODEL_NAME
    default_temperature: float = DEFAULT_TEMPERATURE
    max_body_bytes: int = proto.DEFAULT_MAX_BODY


class LocalServer:
    """The ASGI application around one :class:`LlamaBackend` (an instance is the app)."""

    def __init__(self, backend: Any, config: LocalServerConfig | None = None) -> None:
        self.backend = backend
        self.config = config or LocalServerConfig()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active: set[threading.Event] = set()
        self._stats_lock = threading.Lock()
        self._stats: dict[str, int] = dict.fromkeys(
            (
                "requests",
                "completed",
                "disconnected",
                "errors",
                "prompt_tokens",
                "prompt_tokens_evaluated",
                "prompt_tokens_cached",
                "completion_tokens",
                "retries",
                "repeated_calls_refused",
                "preempted",
            ),
            0,
        )
        self.busy = False
        self.waiting = 0
        # A streamed request is someone waiting for words; a plain one is background work
        # (titles, memory, judges). Streamed requests go first and stop a running plain one.
        self.streams_waiting = 0
        self._running_background: threading.Event | None = None
        self._preempted: set[threading.Event] = set()
        self._inflight: asyncio.Future[Any] | None = None
        self._routes = {
            "/v1/chat/completions": {"POST": self._chat},
            "/v1/models": {"GET": self._models},
            "/health": {"GET": self._health},
        }
        for path in ("/v1/chat/completions", "/v1/models"):
            self._routes[path[3:]] = self._routes[path]

    # ------------------------------------------------------------------------ state

    def count(self, name: str, amount: int = 1) -> None:
        with self._stats_lock:
            self._stats[name] = self._stats.get(name, 0) + amount

    def stats(self) -> proto.JSON:
        """Counters since start, plus ``busy`` (a generation holds the model) and ``waiting``.
        ``prompt_tokens_evaluated`` / ``_cached``: prompt tokens of every generation run through
        the model / taken from the prompt cache."""
        with self._stats_lock:
            return {
                **self._stats,
                "busy": self.busy,
                "waiting": self.waiting,
                "model": self.config.model_name,
            }

    def begin_shutdown(self) -> None:
        """Stop the running generation and the waiting ones (any thread)."""
        with self._stats_lock:
            active = list(self._active)
        for cancel in active:
            cancel.set()

    def close(self) -> None:
        self.begin_shutdown()
        self._executor.shutdown(wait=True)

    def _model_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock

    def _submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._inflight = future
        return future

    async def in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the model's worker thread."""
        return await self._submit(fn, *args)

    async def generate(
        self,
        tokens: list[int],
        params: GenParams,
        cancel: threading.Event,
        on_piece: Callable[[str], Any],
    ) -> GenResult:
        """Run one generation on the worker thread, awaiting ``on_piece`` for each text piece
        in order. Returns once the worker is done with the model."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def emit(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        future = self._submit(self.backend.generate, tokens, params, cancel, emit)
        future.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (piece := await queue.get()) is not None:
                if not cancel.is_set():
                    await on_piece(piece)
        except BaseException:
            cancel.set()
            raise
        finally:
            if not future.done():  # only when cancelled: the model is freed when it stops
                cancel.set()
        result = await future
        self.count("prompt_tokens_evaluated", result.prompt_evaluated)
        self.count("prompt_tokens_cached", result.prompt_cached)
        return result

    # ------------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await proto.lifespan(receive, send, startup=lambda: None, shutdown=self.begin_shutdown)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked_send = proto.TrackedSend(send)
        try:
            handler = proto.find_handler(self._routes, scope)
            await handler(scope, receive, tracked_send)
        except proto.OpenAIError as exc:
            self.count("errors")
            if not tracked_send.started:
                await proto.send_error(send, exc)
        except (ConnectionAbortedError, OSError):
            self.count("disconnected")
        except Exception:
            self.count("errors")
            logger.exception(
                "local LLM server: unexpected error on %s %s", scope["method"], scope["path"]
            )
            if not tracked_send.started:
                await proto.send_error(send, proto.server_error(code="local_llm_error"))
            else:
                error = proto.server_error(code="local_llm_error").to_dict()
                with contextlib.suppress(Exception):
                    await proto.send_body(send, proto.sse_data(error), more=False)

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = proto.models_response([self.config.model_name], owned_by="local")
        await proto.send_json(send, 200, body)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await proto.send_json(send, 200, {"status": "ok", **self.stats()})

    async def _take_model(self, lock: asyncio.Lock, watcher, *, streamed: bool) -> bool:
        """`_acquire`, with streamed requests first: one arriving stops a running plain request
        (it gets a 503 with Retry-After), and a plain request yields while any stream waits."""
        if not streamed:
            while await self._acquire(lock, watcher):
                if not self.streams_waiting:
                    return True
                lock.release()
                await asyncio.sleep(0)  # to the back of the queue, behind the streams
            return False
        self.streams_waiting += 1
        try:
            running = self._running_background
            if running is not None and not running.is_set():
                self._preempted.add(running)
                running.set()
            return await self._acquire(lock, watcher)
        finally:
            self.streams_waiting -= 1

    async def _acquire(self, lock: asyncio.Lock, watcher: asyncio.Future[None]) -> bool:
        """Wait for the model (FIFO); False when the client leaves first."""
        self.waiting += 1
        acquire = asyncio.ensure_future(lock.acquire())
        try:
            await asyncio.wait((acquire, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting -= 1
            if not acquire.done():
                acquire.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acquire
        if acquire.cancelled():
            return False
        if watcher.done():
            lock.release()
            return False
        return True

    def _release(self, lock: asyncio.Lock) -> None:
        """Free the model for the next request -- once the worker thread is done with it (a
        cancelled request may leave it finishing its current token)."""

        def unlock(_: Any = None) -> None:
            self.busy = False
            lock.release()

        inflight = self._inflight
        if inflight is not None and not inflight.done():
            inflight.add_done_callback(unlock)
        else:
            unlock()

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.count("requests")
        body = await proto.read_body(receive, self.config.max_body_bytes)
        req = proto.parse_chat_request(body)
        params = gen_params(req, self.config.default_temperature)
        cancel = threading.Event()
        turn = Turn(self, req, params, cancel)
        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        watcher.add_done_callback(lambda w: w.cancelled() or cancel.set())
        lock = self._model_lock()
        with self._stats_lock:
            self._active.add(cancel)
        try:
            if not await self._take_model(lock, watcher, streamed=req.stream):
                self.count("disconnected")
                return
            try:
                self.busy = True
                if not req.stream:
                    self._running_background = cancel
                await turn.prepare()
                if req.stream:
                    result = await self._stream(send, req, turn)
                else:
                    result = await self._complete(send, req, turn)
            finally:
                self._running_background = None
                self._release(lock)
            if cancel in self._preempted:
                self._preempted.discard(cancel)
                self.count("preempted")
                raise proto.OpenAIError(
                    503,
                    "The local model stopped this request to answer a chat; retry shortly.",
                    type="server_error",
                    code="preempted",
                    headers=[("Retry-After", "5")],
                )
            self.count("prompt_tokens", result.usage.prompt_tokens)
            self.count("completion_tokens", result.usage.completion_tokens)
            self.count("disconnected" if result.cancelled else "completed")
        finally:
            with self._stats_lock:
                self._active.discard(cancel)
            watcher.cancel()

    async def _complete(self, send: Send, req: proto.ChatRequest, turn: Turn) -> TurnResult:
        async def collect(piece: str) -> None:
            return None

        result = await turn.run(collect)
        if result.cancelled:
            return result
        content = strip_markup(result.content)
        body = proto.chat_completion(
            model=self.config.model_name,
            content=content if content or not result.calls else None,
            tool_calls=result.calls,
            finish_reason=result.finish_reason,
            usage=result.usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        await proto.send_json(send, 200, body)
        return result

    async def _stream(self, send: Send, req: proto.ChatRequest, turn: Turn) -> TurnResult:
        enc = proto.ChunkEncoder(
            self.config.model_name,
            include_usage=req.include_usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        await proto.start_sse(send)
        forced = req.tool_choice in ("required", "named")
        await proto.send_body(send, enc.role(None if forced else ""))

        markup = MarkupFilter()

        async def forward(piece: str) -> None:
            if text := markup.feed(piece):
                await proto.send_body(send, enc.content(text))

        result = await turn.run(forward)
        if result.cancelled:
            return result
        out = [enc.content(rest)] if (rest := markup.flush()) else []
        for index, call in enumerate(result.calls):
            out.append(enc.tool_call_start(index, call.id, call.name))
            out.append(enc.tool_call_arguments(index, call.arguments))
        out.append(enc.finish(result.finish_reason))
        if req.include_usage:
            out.append(enc.usage(result.usage))
        out.append(proto.SSE_DONE)
        await proto.send_body(send, b"".join(out), more=False)
        return result

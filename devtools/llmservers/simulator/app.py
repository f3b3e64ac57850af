"""The simulator's ASGI application: :class:`Simulator`, its routes, admin state and the timing
of its answers."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import (
    JSON,
    ChatRequest,
    ChunkEncoder,
    OpenAIError,
    Receive,
    Scope,
    Send,
    Usage,
)
from devtools.llmservers.simulator.config import (
    DEFAULT_MODEL,
    SYSTEM_FINGERPRINT,
    ModelProfile,
    SimulatorConfig,
)
from devtools.llmservers.simulator.embeddings import embed_text
from devtools.llmservers.simulator.faults import Decision, FaultSpec, FaultState
from devtools.llmservers.simulator.planning import Plan, plan_reply
from devtools.llmservers.simulator.rules import IntentRule, Rule, RuleSource, load_rules
from devtools.llmservers.simulator.tokens import count_prompt_tokens, count_words

logger = logging.getLogger(__name__)

_ABORTING: contextvars.ContextVar[bool] = contextvars.ContextVar("sim_aborting", default=False)
_UVICORN_ABORT_MESSAGES = (
    "ASGI callable returned without completing response.",
    "ASGI callable returned without starting response.",
)


class _AbortLogFilter(logging.Filter):
    """Silences uvicorn's complaint about a response we dropped on purpose (same task context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_ABORTING.get() and record.msg in _UVICORN_ABORT_MESSAGES)


def _install_log_filter() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AbortLogFilter) for f in log.filters):
        log.addFilter(_AbortLogFilter())


@dataclass(frozen=True)
class _Reply:
    """What one chat request is answered with, and where to."""

    send: Send
    watcher: asyncio.Future[None]
    req: ChatRequest
    plan: Plan
    usage: Usage
    profile: ModelProfile
    break_after: int | None  # cut the answer after this many tokens (a fault)


class Simulator:
    """The simulator's state and its ASGI application (an instance is the app).

    Admin methods (``set_faults``, ``clear_faults``, ``set_rules``, ``stats``, ``reset``) are
    thread-safe and may be called from any thread while the server runs.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._lock = threading.Lock()
        self._initial_faults = {
            m: FaultSpec.from_value(s) for m, s in (self.config.faults or {}).items()
        }
        self._initial_rules = load_rules(self.config.rules)
        self._base_rules = load_rules(self.config.base_rules)  # fixed: tried after the rules
        self._profiles = {
            m: ModelProfile.from_value(p) for m, p in (self.config.profiles or {}).items()
        }
        self._default_profile = ModelProfile(
            ttft_ms=self.config.ttft_ms,
            tokens_per_s=self.config.tokens_per_s,
            reply_tokens=self.config.reply_tokens,
            context_window=self.config.context_window,
        )
        self._rng = random.Random(self.config.seed)  # noqa: S311 - simulated faults
        self._faults: dict[str, FaultSpec] = {}
        self._states: dict[str, FaultState] = {}
        self._rules: list[Rule | IntentRule] = []
        self._stats: dict[str, Any] = {}
        self.active_requests = 0
        self._closing: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._routes = {
            "/v1/chat/completions": {"POST": self._chat},
            "/v1/embeddings": {"POST": self._embeddings},
            "/v1/models": {"GET": self._models},
            "/_sim/faults": {
                "GET": self._admin_faults,
                "PUT": self._admin_faults,
                "DELETE": self._admin_faults,
            },
            "/_sim/rules": {"GET": self._admin_rules, "PUT": self._admin_rules},
            "/_sim/stats": {"GET": self._admin_stats},
            "/_sim/reset": {"POST": self._admin_reset},
        }
        for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/models"):
            self._routes[path[3:]] = self._routes[path]
        self.reset()
        _install_log_filter()

    # ---------------------------------------------------------------- admin (thread-safe)

    def profile(self, model: str) -> ModelProfile:
        return self._profiles.get(model) or self._profiles.get("*") or self._default_profile

    def set_faults(self, model: str, spec: FaultSpec | Mapping[str, Any] | None) -> None:
        """Set (or, with ``None``, clear) the fault of ``model`` (``"*"``: the default)."""
        parsed = None if spec is None else FaultSpec.from_value(spec)
        with self._lock:
            if parsed is None:
                self._faults.pop(model, None)
            else:
                self._faults[model] = parsed
            self._states = {m: s for m, s in self._states.items() if self._spec_for(m) is s.spec}

    def clear_faults(self, model: str | None = None) -> None:
        with self._lock:
            if model is None:
                self._faults.clear()
            else:
                self._faults.pop(model, None)
            self._states = {m: s for m, s in self._states.items() if self._spec_for(m) is s.spec}

    def faults(self) -> dict[str, JSON]:
        with self._lock:
            out = {m: s.to_dict() for m, s in self._faults.items()}
            for model, state in self._states.items():
                if state.spec.fail_times is not None and model in out:
                    out[model]["remaining"] = max(0, state.spec.fail_times - state.failures)
            return out

    def set_rules(self, rules: RuleSource) -> None:
        """Replace the scripted rules (the base rules stay); raises ValueError on a bad rule."""
        parsed = load_rules(rules)
        with self._lock:
            self._rules = parsed

    def rules(self) -> list[JSON]:
        with self._lock:
            return [r.source for r in self._rules]

    def base_rules(self) -> list[JSON]:
        return [r.source for r in self._base_rules]

    def stats(self) -> JSON:
        """``{"total": {"requests", "outcomes"}, "models": {name: {...}}, "endpoints": {...},
        "active": n}``; outcomes: ok, status_429, rate_limited, status_500, status_400, hang,
        broken, disconnected, bad_request, unauthorized, model_not_found, context_length. Each
        model's entry also holds ``last_request``, the JSON body of its latest request, so a
        client's test can see what reached the wire."""
        with self._lock:
            return json.loads(json.dumps(self._stats)) | {"active": self.active_requests}

    def reset(self) -> None:
        """Configured faults and rules back, counters and stats zeroed."""
        with self._lock:
            self._faults = {m: replace(s) for m, s in self._initial_faults.items()}
            self._states = {}
            self._rules = list(self._initial_rules)
            self._rng = random.Random(self.config.seed)  # noqa: S311 - simulated faults
            self._stats = {"total": {"requests": 0, "outcomes": {}}, "models": {}, "endpoints": {}}

    # ------------------------------------------------------------------------ internals

    def _spec_for(self, model: str) -> FaultSpec | None:
        return self._faults.get(model) or self._faults.get("*")

    def _count_request(self, endpoint: str, model: str | None, body: JSON | None = None) -> None:
        with self._lock:
            self._stats["total"]["requests"] += 1
            eps = self._stats["endpoints"]
            eps[endpoint] = eps.get(endpoint, 0) + 1
            if model is not None:
                entry = self._stats["models"].setdefault(model, {"requests": 0, "outcomes": {}})
                entry["requests"] += 1
                entry["last_request"] = body

    def _count_outcome(self, model: str | None, outcome: str) -> None:
        with self._lock:
            targets = [self._stats["total"]]
            if model is not None and model in self._stats["models"]:
                targets.append(self._stats["models"][model])
            for entry in targets:
                entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1

    def _decide_fault(self, model: str) -> Decision | None:
        with self._lock:
            spec = self._spec_for(model)
            if spec is None:
                return None
            state = self._states.get(model)
            if state is None or state.spec is not spec:
                state = self._states[model] = FaultState(spec)
            return state.decide(self._rng)

    def _closing_future(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._closing is None or self._loop is not loop:
            self._loop = loop
            self._closing = loop.create_future()
        return self._closing

    def begin_shutdown(self) -> None:
        """End hanging requests and streams (call in the server's event loop)."""
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)

    def _check_auth(self, scope: Scope) -> None:
        key = self.config.api_key
        if key is None:
            return
        token = proto.bearer_token(scope)
        if token is None or (key != "*" and token != key):
            raise proto.invalid_api_key()

    def _check_model(self, model: str) -> None:
        if self.config.models is not None and model not in self.config.models:
            raise proto.model_not_found(model)

    # ----------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await proto.lifespan(
                receive, send, startup=self._closing_future, shutdown=self.begin_shutdown
            )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked_send = proto.TrackedSend(send)
        self.active_requests += 1
        try:
            handler = proto.find_handler(self._routes, scope)
            try:
                self._check_auth(scope)
            except OpenAIError:
                self._count_request("auth", None)
                self._count_outcome(None, "unauthorized")
                raise
            await handler(scope, receive, tracked_send)
        except OpenAIError as exc:
            if not tracked_send.started:
                await proto.send_error(send, exc)
        except ConnectionAbortedError:
            pass
        except Exception:
            logger.exception(
                "LLM simulator: unexpected error on %s %s", scope["method"], scope["path"]
            )
            if not tracked_send.started:
                await proto.send_error(send, proto.server_error(code="simulator_bug"))
        finally:
            self.active_requests -= 1

    async def _read_json(self, receive: Receive) -> JSON:
        body = await proto.read_body(receive, self.config.max_body_bytes)
        return proto.parse_json_body(body) if body.strip() else {}

    async def _abort(self, send: Send, body: bytes | None = None) -> None:
        """Drop the connection: after ``body[: len // 2]`` of a declared full body, or, for a
        started stream, right away (the handler returns without finishing the response)."""
        _ABORTING.set(True)
        if body is not None:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await proto.send_body(send, body[: len(body) // 2], more=True)

    async def _prologue(self, endpoint: str, scope: Scope, receive: Receive, parse: Any) -> Any:
        try:
            data = await self._read_json(receive)
            req = parse(data)
        except OpenAIError:
            self._count_request(endpoint, None)
            self._count_outcome(None, "bad_request")
            raise
        self._count_request(endpoint, req.model, data)
        try:
            self._check_model(req.model)
        except OpenAIError:
            self._count_outcome(req.model, "model_not_found")
            raise
        return req

    async def _hang(self, watcher: asyncio.Future[None]) -> None:
        await asyncio.wait((watcher, self._closing_future()), return_when=asyncio.FIRST_COMPLETED)

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: ChatRequest = await self._prologue("chat", scope, receive, proto.parse_chat_request)
        model = req.model
        decision = self._decide_fault(model)
        if decision is not None and decision.error is not None:
            self._count_outcome(model, decision.outcome)
            raise decision.error
        profile = self.profile(model)
        prompt_tokens = count_prompt_tokens(req.messages, req.tools)
        window = profile.context_window
        if window is not None and prompt_tokens + (req.max_tokens or 0) > window:
            self._count_outcome(model, "context_length")
            raise proto.context_length_exceeded(prompt_tokens, window)
        with self._lock:
            rules = [*self._rules, *self._base_rules]
        plan = plan_reply(req, rules, profile.reply_tokens)
        usage = Usage(prompt_tokens, plan.completion_tokens)

        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        try:
            if decision is not None and decision.outcome == "hang":
                self._count_outcome(model, "hang")
                await self._hang(watcher)
                await self._abort(send)
                return
            reply = _Reply(
                send,
                watcher,
                req,
                plan,
                usage,
                profile,
                break_after=decision.spec.break_after_tokens if decision is not None else None,
            )
            outcome = await (self._stream(reply) if req.stream else self._complete(reply))
            self._count_outcome(model, outcome)
            if outcome != "ok":
                await self._abort(send)
        finally:
            watcher.cancel()

    async def _delay(self, watcher: asyncio.Future[None], seconds: float) -> bool:
        """Wait ``seconds``; False if the client left or the server is stopping meanwhile."""
        closing = self._closing_future()
        if seconds > 0:
            await asyncio.wait((watcher, closing), timeout=seconds)
        return not (watcher.done() or closing.done())

    async def _complete(self, reply: _Reply) -> str:
        """One JSON response, after the time the whole answer would take to write."""
        tps = reply.profile.tokens_per_s
        delay = reply.profile.ttft_ms / 1000 + (
            reply.usage.completion_tokens / tps if tps > 0 else 0.0
        )
        if not await self._delay(reply.watcher, delay):
            return "disconnected"
        body = proto.chat_completion(
            model=reply.req.model,
            content=reply.plan.text,
            tool_calls=reply.plan.tool_calls,
            finish_reason=reply.plan.finish_reason,
            usage=reply.usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        if reply.break_after is not None:
            await self._abort(reply.send, proto.dumpb(body))
            return "broken"
        await proto.send_json(reply.send, 200, body)
        return "ok"

    async def _stream(self, reply: _Reply) -> str:
        """The answer as SSE chunks, paced by the model's profile."""
        enc = ChunkEncoder(
            reply.req.model,
            include_usage=reply.req.include_usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        if reply.plan.tool_calls:
            opening = enc.role(None)
            chunks = []
            for index, (call, pieces) in enumerate(
                zip(reply.plan.tool_calls, reply.plan.arg_pieces, strict=True)
            ):
                chunks.append(enc.tool_call_start(index, call.id, call.name))
                chunks.extend(enc.tool_call_arguments(index, p) for p in pieces)
        else:
            opening = enc.role("")
            chunks = [enc.content(p) for p in reply.plan.pieces]
        trailer = enc.finish(reply.plan.finish_reason)
        if reply.req.include_usage:
            trailer += enc.usage(reply.usage)
        trailer += proto.SSE_DONE

        loop = asyncio.get_running_loop()
        start = loop.time()
        await proto.start_sse(reply.send)
        ttft = reply.profile.ttft_ms / 1000
        if not await self._delay(reply.watcher, ttft):
            return "disconnected"
        closing = self._closing_future()
        interval = 1.0 / reply.profile.tokens_per_s if reply.profile.tokens_per_s > 0 else 0.0
        limit = len(chunks) if reply.break_after is None else min(reply.break_after, len(chunks))
        first = start + ttft
        pending = opening
        i = 0
        while i < limit:
            if interval:
                delay = first + i * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if reply.watcher.done() or closing.done():
                        return "disconnected"
                due = int((loop.time() - first) / interval) + 1
                j = min(limit, max(i + 1, due))
            else:
                j = limit
            await proto.send_body(reply.send, pending + b"".join(chunks[i:j]))
            pending = b""
            i = j
        if reply.break_after is not None:
            if pending:
                await proto.send_body(reply.send, pending)
            return "broken"
        await proto.send_body(reply.send, pending + trailer, more=False)
        return "ok"

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = await self._prologue("embeddings", scope, receive, proto.parse_embeddings_request)
        decision = self._decide_fault(req.model)
        if decision is not None and decision.error is not None:
            self._count_outcome(req.model, decision.outcome)
            raise decision.error
        dim = req.dimensions or self.config.embedding_dim
        if dim > 65536:
            self._count_outcome(req.model, "bad_request")
            raise proto.invalid_request("'dimensions' is too large (max 65536).", "dimensions")
        texts = [x if isinstance(x, str) else " ".join(f"t{t}" for t in x) for x in req.inputs]
        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        try:
            if decision is not None and decision.outcome == "hang":
                self._count_outcome(req.model, "hang")
                await self._hang(watcher)
                await self._abort(send)
                return
            if not await self._delay(watcher, self.config.embedding_latency_ms / 1000):
                self._count_outcome(req.model, "disconnected")
                return
            vectors = [embed_text(t, dim) for t in texts]
            tokens = sum(count_words(t) for t in texts)
            body = proto.embeddings_response(req.model, vectors, tokens, req.encoding_format)
            if decision is not None and decision.outcome == "broken":
                self._count_outcome(req.model, "broken")
                await self._abort(send, proto.dumpb(body))
                return
            await proto.send_json(send, 200, body)
            self._count_outcome(req.model, "ok")
        finally:
            watcher.cancel()

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = self.config.models or [DEFAULT_MODEL]
        await proto.send_json(send, 200, proto.models_response(names, owned_by="simulator"))

    async def _admin_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        method = scope["method"]
        if method == "PUT":
            data = await self._read_json(receive)
            if "model" in data and "fault" in data and len(data) == 2:
                data = {data["model"]: data["fault"]}
            try:
                parsed = {
                    m: None if s is None else FaultSpec.from_value(s) for m, s in data.items()
                }
            except ValueError as exc:
                raise proto.invalid_request(f"Bad fault spec: {exc}") from None
            if query.get("replace", ["0"])[0] in ("1", "true", "yes"):
                self.clear_faults()
            for model, spec in parsed.items():
                self.set_faults(model, spec)
        elif method == "DELETE":
            self.clear_faults(query["model"][0] if "model" in query else None)
        await proto.send_json(send, 200, {"faults": self.faults()})

    async def _admin_rules(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "PUT":
            body = await proto.read_body(receive, self.config.max_body_bytes)
            try:
                self.set_rules(json.loads(body or b"[]"))
            except ValueError as exc:
                raise proto.invalid_request(f"Bad rules: {exc}") from None
        await proto.send_json(send, 200, {"rules": self.rules(), "base_rules": self.base_rules()})

    async def _admin_stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        await proto.send_json(send, 200, self.stats())

    async def _admin_reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reset()
        await proto.send_json(send, 200, {"ok": True})


def create_app(config: SimulatorConfig | None = None) -> Simulator:
    """The ASGI application (a :class:`Simulator`, whose admin methods stay usable)."""
    return Simulator(config)

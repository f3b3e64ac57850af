"""The model ring as a LangChain chat model, so LangGraph uses it unchanged.

For one request it walks the ring from its first model, wrapping around once: a model whose
breaker is open is skipped; a retryable failure is retried with full-jitter backoff (never
sooner than Retry-After); a model that is exhausted hands over to the next one, with the same
tools. All of that state lives in the request (`_RingRun`), never in the process, so a switch
for one request changes nothing for the others. Every attempt becomes an LLMCall row and
metrics; every switch is a `llm_fallback` custom event that the chat turns into an SSE event.

When a stream breaks after text was sent, the next model is asked to continue that text, and
the caller is told. Tool-call fragments are held back until an attempt completes, so a broken
attempt never leaves half a tool call in the answer.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx
import redis
from django.conf import settings
from django.core.signals import setting_changed
from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
    adispatch_custom_event,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from agents.llm import listener, metrics, traces
from agents.llm.breaker import BreakerState, CircuitBreaker
from agents.llm.clients import model_client
from agents.llm.config import ModelEndpoint, RingConfig, build_config
from agents.llm.errors import LLMRequestError, LLMUnavailableError
from agents.llm.failures import (
    Failure,
    StreamBroken,
    Verdict,
    backoff_delay,
    classify,
)
from agents.llm.recorder import Attempt, recorder
from agents.llm.streaming import Piece, collect, streamed, streamed_pieces, whole
from agentsite import tracing
from agentsite.loops import background_loop

logger = logging.getLogger(__name__)

FALLBACK_EVENT = "llm_fallback"
CONNECT_TIMEOUT = 5.0
CONTINUE_PROMPT = (
    "Your previous answer was cut off. Continue it exactly where it stopped, "
    "without repeating anything already written."
)


@lru_cache(maxsize=1)
def ring_config() -> RingConfig:
    return build_config(settings)


@lru_cache(maxsize=1)
def breaker() -> CircuitBreaker:
    policy = ring_config().policy
    return CircuitBreaker(
        settings.REDIS_URL, threshold=policy.breaker_threshold, cooldown=policy.breaker_cooldown
    )


def _forget_config(setting, **_):
    if setting.startswith("LLM_") or setting == "REDIS_URL":
        ring_config.cache_clear()
        breaker.cache_clear()


setting_changed.connect(_forget_config)


class ModelRing(BaseChatModel):
    """A chat model that is the whole ring. `first_model` picks where the walk starts."""

    purpose: str = "chat"
    first_model: str | None = None

    @property
    def _llm_type(self) -> str:
        return "agentsite-model-ring"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs):
        """Tools in OpenAI form, re-sent to whichever model ends up answering."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice in ("any", "required"):
            kwargs["tool_choice"] = "required"
        elif tool_choice in ("auto", "none"):
            kwargs["tool_choice"] = tool_choice
        elif tool_choice:
            kwargs["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
        return self.bind(tools=formatted, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # BaseChatModel reports each chunk to the callbacks (LangGraph's token stream) itself.
        run = _RingRun(ring_config(), breaker(), self.purpose, self.first_model, run_manager)
        async for item in run.stream(messages, stop, kwargs, streaming=True, with_text=True):
            message = AIMessageChunk(content=item) if isinstance(item, str) else item
            yield ChatGenerationChunk(message=message)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Streamed from the provider when someone listens (the chat), else one plain HTTP
        response per attempt (far cheaper to parse). Either way, one message comes back."""
        run = _RingRun(ring_config(), breaker(), self.purpose, self.first_model, run_manager)
        streaming = run.listener is not None
        final = run.stream(messages, stop, kwargs, streaming=streaming, with_text=False)
        return await collect(final, run.sent_parts)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """For callers that can't await (Celery tasks, Mem0): the same ring on a side loop."""
        return background_loop.run(self._agenerate(messages, stop, None, **kwargs))


class _RingRun:
    """The state of one request's walk around the ring."""

    def __init__(self, config, breaker_, purpose, first_model, run_manager):
        self.config = config
        self.policy = config.policy
        self.breaker = breaker_
        self.purpose = purpose
        self.run_manager = run_manager
        self.id = uuid.uuid4()
        self.budget = self.policy.budget_for(purpose)
        self.deadline = time.monotonic() + self.budget
        self.attempts = 0
        self.sent_parts: list[str] = []  # what the caller already has, for a continuation
        self.failed_models: set[str] = set()  # whose breaker heard of a failure from us
        self.listener = listener.current.get()
        self.trace = tracing.current()  # where its attempts' generations go, if traced
        start = _index_of(config.models, first_model)
        self.order = config.models[start:] + config.models[:start]

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    async def stream(
        self, messages, stop, kwargs, *, streaming: bool, with_text: bool
    ) -> AsyncIterator[str | AIMessageChunk]:
        """The answer: its text as it comes (`with_text`; else only in `sent_parts` and to the
        listener, which spares the caller a resumption per token), then one final chunk."""
        previous: ModelEndpoint | None = None
        last: Failure | None = None
        for endpoint in self.order:
            state = await self._allow(endpoint)
            if state is BreakerState.OPEN:
                metrics.failures.labels(endpoint.name, self.purpose, "breaker_open").inc()
                last = last or Failure(Verdict.NEXT_MODEL, "breaker_open")
                continue
            if previous is not None:
                if self.remaining() <= 0:  # no time left to try it: announce no switch
                    raise LLMUnavailableError(_budget_detail(self.budget), "budget")
                await self._announce_fallback(previous, endpoint, last)
            for retry in range(self.policy.max_retries + 1):
                if self.remaining() <= 0:
                    raise LLMUnavailableError(_budget_detail(self.budget), "budget")
                prompt = self._with_continuation(messages)
                sent_before = len(self.sent_parts)
                try:
                    via = traces.tried_as(retry=retry, fallback=previous is not None)
                    attempt = self._attempt(
                        endpoint, prompt, stop, kwargs, previous, streaming, with_text, via=via
                    )
                    async for item in attempt:
                        yield item
                except LLMUnavailableError:
                    raise
                except Exception as exc:
                    last = classify(exc)
                    if last.verdict is Verdict.FATAL:
                        raise LLMRequestError(_fatal_detail(last), last.reason) from exc
                    if not await self._keep_trying(endpoint, state, last, retry, sent_before):
                        break
                    continue
                if state.needs_reset_on_success or endpoint.name in self.failed_models:
                    await self._record_success(endpoint)
                return
            previous = endpoint
        raise LLMUnavailableError(
            "The assistant is unavailable right now; please try again in a moment.",
            last.reason if last else "",
        )

    async def _keep_trying(self, endpoint, state, failure, retry, sent_before) -> bool:
        """After a failed attempt: wait and retry this model (True), or move on (False)."""
        if failure.counts_against_model and await self._record_failure(endpoint):
            return False  # the breaker just opened: stop paying for this model
        if failure.verdict is Verdict.NEXT_MODEL or state is BreakerState.PROBE:
            return False
        if len(self.sent_parts) > sent_before:
            return False  # broke mid-answer: the next model continues it
        if retry >= self.policy.max_retries:
            return False
        if (failure.retry_after or 0) > self.policy.retry_after_max:
            return False  # the model asks for a long pause: someone else answers now
        delay = backoff_delay(
            retry,
            base=self.policy.backoff_base,
            cap=self.policy.backoff_max,
            retry_after=failure.retry_after,
        )
        if delay >= self.remaining():
            return False
        metrics.retries.labels(endpoint.name, self.purpose).inc()
        await asyncio.sleep(delay)
        return True

    def _with_continuation(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        if not self.sent_parts:
            return messages
        return [*messages, AIMessage("".join(self.sent_parts)), HumanMessage(CONTINUE_PROMPT)]

    async def _attempt(
        self, endpoint, messages, stop, kwargs, fallback_from, streaming, with_text, *, via
    ):
        """One HTTP call. Yields text as it comes (str, `with_text`; else the text goes only
        to `sent_parts` and the listener), then one final AIMessageChunk with the tool calls,
        usage and metadata, once the call has completed."""
        self.attempts += 1
        attempt = Attempt(
            ring_request_id=self.id,
            model=endpoint.name,
            endpoint=endpoint.base_url,
            purpose=self.purpose,
            attempt=self.attempts,
            started_at=datetime.now(UTC),
            fallback_from=fallback_from.name if fallback_from else "",
        )
        generation = traces.start(self.trace, attempt, via=via)
        started = time.monotonic()
        held = AIMessageChunk(content="")
        finish_reason = None
        pieces = 0

        def take(piece: Piece) -> None:
            """One piece of the answer, as it arrives (from the connection's callback when
            nobody needs it yielded): text to the listener at once, the rest held back. It
            reads no context variable (the listener was taken when the run began)."""
            nonlocal held, finish_reason, pieces
            if time.monotonic() > self.deadline:  # the budget, per piece (silence: read timeout)
                raise LLMUnavailableError(_budget_detail(self.budget), "budget")
            if attempt.ttft_s is None:
                attempt.ttft_s = time.monotonic() - started
            finish_reason = piece.finish_reason or finish_reason
            if piece.tool_call_chunks or piece.usage:  # held back for the final chunk
                held += AIMessageChunk(
                    content="", tool_call_chunks=piece.tool_call_chunks, usage_metadata=piece.usage
                )
            if piece.text:
                pieces += 1
                self.sent_parts.append(piece.text)
                if self.listener is not None:
                    self.listener.on_text(piece.text)

        client = model_client(endpoint, self.policy)
        timeout = self._http_timeout(streaming)
        try:
            if with_text:  # the caller yields every piece on: an iterator, resumed per piece
                each = streamed_pieces(client, messages, stop=stop, timeout=timeout, **kwargs)
                async with contextlib.aclosing(each) as pieces_of_answer:
                    async for piece in pieces_of_answer:
                        take(piece)
                        if piece.text:
                            yield piece.text
            else:
                call = streamed if streaming else whole
                await call(client, messages, stop=stop, timeout=timeout, take=take, **kwargs)
            usage = held.usage_metadata or {}
            attempt.prompt_tokens = usage.get("input_tokens", 0)
            attempt.completion_tokens = usage.get("output_tokens", pieces)
            yield self._final_chunk(held, endpoint, finish_reason)
        except asyncio.CancelledError:
            attempt.status = "interrupted"
            attempt.completion_tokens = pieces
            raise
        except BaseException as exc:
            attempt.status = "error"
            attempt.error_class = type(exc).__name__
            attempt.error_reason = classify(exc).reason if isinstance(exc, Exception) else ""
            attempt.completion_tokens = pieces
            if _is_mid_stream_disconnect(exc, pieces):
                raise StreamBroken(str(exc)) from exc
            raise
        finally:
            attempt.latency_s = time.monotonic() - started
            price = self.config.price(endpoint.name)
            attempt.cost_usd = price.cost(attempt.prompt_tokens, attempt.completion_tokens)
            recorder.record(attempt)
            traces.finish(generation, attempt)

    def _http_timeout(self, streaming: bool) -> httpx.Timeout:
        """The whole call may take what is left of the budget; a silence in a stream, much
        less. A plain response is silent until the whole answer is written: its reads may
        take the rest of the budget."""
        left = max(0.01, self.remaining())
        silence = min(self.policy.first_token_timeout, left) if streaming else left
        return httpx.Timeout(left, connect=min(CONNECT_TIMEOUT, left), read=silence)

    def _final_chunk(self, held, endpoint, finish_reason) -> AIMessageChunk:
        metadata = {
            "model_name": endpoint.name,
            "finish_reason": finish_reason,
            "ring_request_id": str(self.id),
            "attempts": self.attempts,
        }
        return AIMessageChunk(
            content="",
            tool_call_chunks=held.tool_call_chunks,
            usage_metadata=held.usage_metadata,
            response_metadata=metadata,
            chunk_position="last",
        )

    async def _announce_fallback(self, source, target, failure):
        reason = failure.reason if failure else "unavailable"
        metrics.fallbacks.labels(source.name, target.name, self.purpose).inc()
        logger.warning("LLM fallback %s -> %s (%s)", source.name, target.name, reason)
        data = {"from_model": source.name, "to_model": target.name, "reason": reason}
        if self.listener is not None:
            self.listener.on_fallback(data)
        # A custom event: LangGraph's astream_events hands it to the chat as it happens.
        manager = self.run_manager
        if manager is not None:
            await AsyncCallbackManager(
                handlers=manager.handlers, tags=manager.tags, metadata=manager.metadata
            ).on_custom_event(FALLBACK_EVENT, data, run_id=manager.run_id)
            return
        with contextlib.suppress(RuntimeError):  # no enclosing run: nobody is listening
            await adispatch_custom_event(FALLBACK_EVENT, data)

    def _breaker_key(self, endpoint) -> str:
        """One breaker per model and purpose: background work timing out on long prompts
        (memory, judges) must not cut the chat off from a model that answers chats."""
        return f"{endpoint.name}/{self.purpose}"

    # The breaker fails open: if Redis is unreachable, models are tried as if closed.
    async def _allow(self, endpoint) -> BreakerState:
        try:
            state = await self.breaker.aallow(self._breaker_key(endpoint))
        except redis.RedisError:
            logger.warning("breaker store unreachable; trying %s anyway", endpoint.name)
            return BreakerState.CLOSED
        return state

    async def _record_failure(self, endpoint) -> bool:
        """Count the failure; True when it opened the breaker."""
        self.failed_models.add(endpoint.name)
        try:
            opened = await self.breaker.arecord_failure(self._breaker_key(endpoint))
            opened = opened is BreakerState.OPEN
        except redis.RedisError:
            return False
        if opened:
            logger.warning("circuit breaker open for %s", self._breaker_key(endpoint))
        return opened

    async def _record_success(self, endpoint) -> None:
        try:
            await self.breaker.arecord_success(self._breaker_key(endpoint))
        except redis.RedisError:
            return


def _index_of(models: Sequence[ModelEndpoint], name: str | None) -> int:
    for index, endpoint in enumerate(models):
        if endpoint.name == name:
            return index
    return 0


def _is_mid_stream_disconnect(exc: BaseException, pieces: int) -> bool:
    return pieces > 0 and classify(exc).reason in ("connection", "api_error", "timeout")


def _budget_detail(budget: float) -> str:
    return f"The assistant took too long (over {budget:.0f} s); please try again."


def _fatal_detail(failure: Failure) -> str:
    if failure.reason == "context_length":
        return "This conversation is too long for the model; start a new session."
    return "The model refused this request."

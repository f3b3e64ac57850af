"""One chat turn, end to end: the user's message saved first, the agent run, the answer saved
whatever happens (complete, interrupted or failed), usage counted, follow-up work queued.

`ChatTurn.begin` does everything that may refuse the turn (ownership, quota) before any LLM
call; `ChatTurn.events` runs the agent and yields what the stream shows, ending with exactly one
`done` or `error`. The SSE consumer and the non-streamed API share it.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.errors import GraphRecursionError

from agents import checkpoints, metrics, services
from agents.graph.graph import RECURSION_LIMIT
from agents.llm.listener import listening
from agents.llm.ring import LLMRequestError, LLMUnavailableError
from agents.models import ChatSession, Message
from agentsite import aioredis, context, tracing
from agentsite.asyncdb import db_call
from memory.selectors import facts_for_turn

logger = logging.getLogger(__name__)

TURN_LOCK_PREFIX = "agentsite:turn-lock:"


@dataclass(frozen=True)
class TurnEvent:
    name: str  # start, token, tool_call, tool_result, fallback, done, error
    data: dict


@dataclass
class _Progress:
    """What the turn has produced so far, saved whatever way it ends."""

    parts: list[str] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _QueueListener:
    """Hands the ring's text and switches to the turn, as they happen."""

    def __init__(self, queue: asyncio.Queue):
        self.queue = queue

    def on_text(self, text: str) -> None:
        self.queue.put_nowait(("text", text))

    def on_fallback(self, switch: dict) -> None:
        self.queue.put_nowait(("fallback", switch))


class ChatTurn:
    def __init__(self, user, session: ChatSession, user_message: Message, answer: Message):
        self.user = user
        self.session = session
        self.user_message = user_message
        self.answer = answer
        self.progress = _Progress()
        self.started = time.monotonic()
        self.trace_id = ""  # set when the turn is traced in Langfuse
        self.memory_search: asyncio.Task | None = None  # the person's memories for this turn

    @classmethod
    async def begin(cls, user, session_id, content: str) -> "ChatTurn":
        """Refuse early (404 not theirs, 429 over quota) or save the user's message."""
        return cls.opened(user, *await db_call(cls.open)(user, session_id, content))

    @staticmethod
    def open(user, session_id, content: str) -> tuple[Message, Message]:
        """The blocking part of `begin`, for callers already in a worker thread."""
        request_id = context.get("request_id") or ""
        asked, answer = services.open_turn(user, session_id, content, request_id)
        context.bind(session_id=answer.session_id)
        return asked, answer

    @classmethod
    def opened(cls, user, asked: Message, answer: Message) -> "ChatTurn":
        return cls(user, answer.session, asked, answer)

    async def events(self) -> AsyncIterator[TurnEvent]:
        yield TurnEvent(
            "start",
            {
                "session_id": str(self.session.pk),
                "user_message_id": str(self.user_message.pk),
                "assistant_message_id": str(self.answer.pk),
            },
        )
        metrics.turns_active.inc()
        try:
            async with self._session_lock():
                async for event in self._run_agent():
                    yield event
            await self._finish(Message.Status.COMPLETE)
            yield TurnEvent("done", self._done_data())
        except asyncio.CancelledError:
            await self._finish_despite_errors(Message.Status.INTERRUPTED)
            raise
        except Exception as exc:  # every failure ends the stream with one error event
            code, detail = _describe_failure(exc)
            await self._finish_despite_errors(Message.Status.FAILED)
            yield TurnEvent(
                "error", {"code": code, "detail": detail, "request_id": context.get("request_id")}
            )
        finally:
            metrics.turns_active.dec()

    async def _run_agent(self) -> AsyncIterator[TurnEvent]:
        """The graph runs in its own task; its text, switches and node results meet here in
        one queue, in the order they happened."""
        queue: asyncio.Queue = asyncio.Queue()
        runner = asyncio.create_task(self._drive_graph(queue))
        pending = None  # an item read while joining text, handled next
        try:
            while True:
                kind, payload = pending or await queue.get()
                pending = None
                if kind == "text":
                    # Text already waiting joins this event: a busy server sends fewer,
                    # larger token events instead of a backlog of tiny ones.
                    parts = [payload]
                    while not queue.empty():
                        pending = queue.get_nowait()
                        if pending[0] != "text":
                            break
                        parts.append(pending[1])
                        pending = None
                    text = "".join(parts)
                    self.progress.parts.append(text)
                    yield TurnEvent("token", {"text": text})
                elif kind == "fallback":
                    yield TurnEvent("fallback", payload)
                elif kind == "update":
                    for event in await self._node_update(payload):
                        yield event
                elif kind == "error":
                    raise payload
                else:
                    return
        finally:
            if not runner.done():
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)

    async def _drive_graph(self, queue: asyncio.Queue) -> None:
        # The person's memories are searched while the graph and its checkpoint load; the
        # model's first call awaits them (agents/graph/graph.py). The search never raises.
        config = self._traced_config()
        config["configurable"]["memories"] = self.memory_search = asyncio.create_task(
            facts_for_turn(
                self.user.pk, self.user_message.content, limit=settings.MEMORY_PROMPT_LIMIT
            )
        )
        graph = await checkpoints.agent_graph()
        with listening(_QueueListener(queue)):
            try:
                async for update in graph.astream(
                    {"messages": [HumanMessage(self.user_message.content)]},
                    config,
                    stream_mode="updates",
                    # One checkpoint write when the turn ends, not one per step: the Message
                    # rows already record the turn as it happens.
                    durability="exit",
                ):
                    queue.put_nowait(("update", update))
            except Exception as exc:
                queue.put_nowait(("error", exc))
                return
        queue.put_nowait(("end", None))

    async def _node_update(self, update: dict) -> list[TurnEvent]:
        """After the model: its tool calls (and usage). After the tools: their results."""
        events = []
        for node, output in update.items():
            for message in (output or {}).get("messages", []):
                if node == "call_model":
                    events += [TurnEvent("tool_call", call) for call in self._account(message)]
                elif node == "tools":
                    events.append(await self._tool_result(message))
        return events

    def _graph_config(self) -> dict:
        return {
            "configurable": {"thread_id": str(self.session.pk), "user_id": str(self.user.pk)},
            "recursion_limit": RECURSION_LIMIT,
        }

    def _traced_config(self) -> dict:
        """The graph's config, with Langfuse's callback when tracing is on (else unchanged)."""
        callbacks, metadata = tracing.chat_callbacks(
            answer_id=self.answer.pk, user_id=self.user.pk, session_id=self.session.pk
        )
        if not callbacks:
            return self._graph_config()
        self.trace_id = tracing.trace_id_for(self.answer.pk)
        return {**self._graph_config(), "callbacks": callbacks, "metadata": metadata}

    def _account(self, message: AIMessage) -> list[dict]:
        """Usage and model of one model call; its tool calls, as the stream shows them."""
        usage = message.usage_metadata or {}
        self.progress.prompt_tokens += usage.get("input_tokens", 0)
        self.progress.completion_tokens += usage.get("output_tokens", 0)
        self.progress.model = message.response_metadata.get("model_name") or self.progress.model
        self.progress.finish_reason = message.response_metadata.get("finish_reason") or "stop"
        calls = [
            {"id": call["id"], "name": call["name"], "arguments": call["args"]}
            for call in message.tool_calls
        ]
        self.progress.tool_calls += calls
        return calls

    async def _tool_result(self, output) -> TurnEvent:
        content = output.content if isinstance(output.content, str) else str(output.content)
        await db_call(services.save_tool_result)(
            self.answer, tool_call_id=output.tool_call_id, name=output.name or "", content=content
        )
        return TurnEvent(
            "tool_result", {"id": output.tool_call_id, "name": output.name, "content": content}
        )

    def _session_lock(self):
        """One turn at a time per session: concurrent turns would fork the agent's state.
        Held in Redis (every process agrees) and expiring on its own if a process dies."""
        ttl = settings.LLM_POLICY["budget"] * 2 + 60
        return aioredis.client(settings.REDIS_URL).lock(
            f"{TURN_LOCK_PREFIX}{self.session.pk}", timeout=ttl, blocking_timeout=ttl
        )

    async def _finish(self, status: str) -> None:
        """Save the answer with its final status, count usage, queue the follow-up work."""
        progress = self.progress
        fields = {
            "status": status,
            "content": progress.text,
            "model": progress.model,
            "tool_calls": progress.tool_calls,
            "prompt_tokens": progress.prompt_tokens,
            "completion_tokens": progress.completion_tokens,
            "latency_ms": round((time.monotonic() - self.started) * 1000),
            "trace_id": self.trace_id,
            "memories": self._memories_given(),
        }
        await db_call(services.close_turn)(self.user, self.answer, fields=fields)
        metrics.turns.labels(status).inc()
        if status != Message.Status.COMPLETE and progress.text:
            await self._remember_partial_answer()
        if status == Message.Status.COMPLETE:
            untitled = None if self.session.title else self.session.pk
            await sync_to_async(_queue_follow_up, thread_sensitive=False)(
                self.user_message.pk, untitled
            )

    def _memories_given(self) -> list[str]:
        """The memories the agent was shown, if the search finished (it never raises)."""
        search = self.memory_search
        if search is None or not search.done() or search.cancelled():
            return []
        return search.result()

    async def _finish_despite_errors(self, status: str) -> None:
        """Store a final status even while being cancelled; if the store itself is down, log
        it: the answer row already says `interrupted`, and the stream still ends properly."""
        try:
            await asyncio.shield(self._finish(status))
        except Exception:
            logger.exception("could not store the final status %s of a turn", status)

    async def _remember_partial_answer(self) -> None:
        """Put a cut-off answer into the agent's state, so the next turn knows what was said."""
        try:
            graph = await checkpoints.agent_graph()
            await graph.aupdate_state(
                self._graph_config(),
                {"messages": [AIMessage(self.progress.text)]},
                as_node="call_model",
            )
        except Exception:  # best effort: the Message row is what the person sees
            logger.warning("could not store the partial answer in the checkpoint", exc_info=True)

    def _done_data(self) -> dict:
        return {
            "assistant_message_id": str(self.answer.pk),
            "model": self.progress.model,
            "finish_reason": self.progress.finish_reason or "stop",
            "usage": {
                "prompt_tokens": self.progress.prompt_tokens,
                "completion_tokens": self.progress.completion_tokens,
            },
        }


def _queue_follow_up(user_message_id, untitled_session_id) -> None:
    """After a complete turn, in one worker-thread hop: learn from the person's words, and
    title a session that has no title yet."""
    from agents.tasks import generate_session_title
    from memory.tasks import remember_message

    remember_message.delay(str(user_message_id))
    if untitled_session_id is not None:
        generate_session_title.delay(str(untitled_session_id))


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """A code and a sentence a person can read; the exception itself goes to the log only."""
    if isinstance(exc, LLMUnavailableError):
        return "llm_unavailable", str(exc)
    if isinstance(exc, LLMRequestError):
        return "llm_request_rejected", str(exc)
    if isinstance(exc, GraphRecursionError):
        return "too_many_steps", "The assistant needed too many steps; try a simpler request."
    logger.exception("chat turn failed", exc_info=exc)
    return "internal_error", "Something went wrong on our side; please try again."

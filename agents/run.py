"""One run of the agent graph, as typed events: what the model writes, the tools it calls and
their results, a switch of model. Nothing here touches the database or the request.

The graph runs in its own task. The ring hands it text and switches through a listener
(agents/llm/listener.py), LangGraph hands it node updates; all meet in one queue, in the order
they happened, so a token never overtakes the tool call it follows.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, ToolMessage

from agents import checkpoints
from agents.events import Fallback, Token, ToolCall, ToolResult, TurnEvent
from agents.graph.context import Context
from agents.graph.graph import CALL_MODEL, RECURSION_LIMIT, RUN_TOOLS
from agents.llm import listening
from agentsite import tracing


@dataclass
class RunProgress:
    """What the run has produced so far; kept whatever way the run ends."""

    parts: list[str] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def account(self, message: AIMessage) -> list[ToolCall]:
        """Usage and model of one model call; its tool calls, as the stream shows them."""
        usage = message.usage_metadata or {}
        self.prompt_tokens += usage.get("input_tokens", 0)
        self.completion_tokens += usage.get("output_tokens", 0)
        self.model = message.response_metadata.get("model_name") or self.model
        self.finish_reason = message.response_metadata.get("finish_reason") or "stop"
        calls = [ToolCall(call["id"], call["name"], call["args"]) for call in message.tool_calls]
        self.tool_calls += [event.data for event in calls]
        return calls


class _QueueListener:
    """Hands the ring's text and switches to the run, as they happen."""

    def __init__(self, queue: asyncio.Queue):
        self.queue = queue

    def on_text(self, text: str) -> None:
        self.queue.put_nowait(("text", text))

    def on_fallback(self, switch: dict) -> None:
        self.queue.put_nowait(("fallback", switch))


class AgentRun:
    """The agent's answer to one message of a session (the thread), for one person."""

    def __init__(
        self,
        *,
        session_id,
        question: str,
        context: Context,
        trace=None,
        progress: RunProgress | None = None,
    ):
        self.thread = {"configurable": {"thread_id": str(session_id)}}
        self.question = question
        self.context = context
        self.trace = trace  # the turn's Langfuse observation, or None: not traced
        self.progress = progress or RunProgress()

    async def events(self) -> AsyncIterator[TurnEvent]:
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
                    yield Token(text)
                elif kind == "fallback":
                    yield Fallback(**payload)
                elif kind == "update":
                    for event in self._node_events(payload):
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
        graph = await checkpoints.agent_graph()
        config = {**self.thread, "recursion_limit": RECURSION_LIMIT}
        with listening(_QueueListener(queue)), tracing.under(self.trace):
            try:
                async for update in graph.astream(
                    {"question": self.question},
                    config,
                    context=self.context,
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

    def _node_events(self, update: dict) -> list[TurnEvent]:
        """After the model: its tool calls (and usage). After the tools: their results."""
        events: list[TurnEvent] = []
        for node, output in update.items():
            for message in (output or {}).get("messages", []):
                if node == CALL_MODEL:
                    events += self.progress.account(message)
                elif node == RUN_TOOLS:
                    events.append(_tool_result(message))
        return events

    async def keep_partial_answer(self) -> None:
        """Put a cut-off answer into the agent's state, so the next turn knows what was said."""
        graph = await checkpoints.agent_graph()
        await graph.aupdate_state(
            self.thread, {"messages": [AIMessage(self.progress.text)]}, as_node=CALL_MODEL
        )


def _tool_result(message: ToolMessage) -> ToolResult:
    content = message.content if isinstance(message.content, str) else str(message.content)
    return ToolResult(message.tool_call_id, message.name or "", content)

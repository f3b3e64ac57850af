"""One run of the team graph, as typed events: what the models write, the tools they call and
their results, a switch of model, each handoff between agents and the passages cited. Nothing
here touches the database or the request.

The graph runs in its own task. The ring hands it text and switches through a listener
(agents/llm/listener.py), LangGraph hands it node updates (of the team graph and, inside each
agent's graph, of its model and tools); all meet in one queue, in the order they happened, so
a token never overtakes the tool call it follows. A reader that writes text itself (the SSE
stream) may take it straight from the listener instead, but only while the queue is empty
and it is asking for the next event: then nothing can be ahead of that text.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, ToolMessage

from agents import checkpoints
from agents.events import AgentChanged, Cited, Fallback, Token, ToolCall, ToolResult, TurnEvent
from agents.graph.context import Context
from agents.graph.graph import NEXT_STEP, RECURSION_LIMIT
from agents.graph.react import CALL_MODEL, RUN_TOOLS
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
    agent: str = ""  # the agent writing now (at the end: the one that wrote last)
    handoffs: list[dict] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def account(self, message: AIMessage) -> list[ToolCall]:
        """Usage and model of one model call; its tool calls, as the stream shows them."""
        self.add_usage(message.usage_metadata or {})
        self.model = message.response_metadata.get("model_name") or self.model
        self.finish_reason = message.response_metadata.get("finish_reason") or "stop"
        calls = [ToolCall(call["id"], call["name"], call["args"]) for call in message.tool_calls]
        self.tool_calls += [event.data for event in calls]
        return calls

    def add_usage(self, usage: dict) -> None:
        self.prompt_tokens += usage.get("input_tokens", 0)
        self.completion_tokens += usage.get("output_tokens", 0)

    def hand_off(self, handoffs: list[dict]) -> list[AgentChanged]:
        """The handoffs of the turn not yet told (the state holds them all)."""
        new = handoffs[len(self.handoffs) :]
        self.handoffs += new
        if new:
            self.agent = new[-1]["name"]
        return [AgentChanged(h["name"], h["from"], h["reason"]) for h in new]

    def cite(self, citations: list[dict]) -> list[Cited]:
        """The citations of the turn not yet told."""
        new = citations[len(self.citations) :]
        self.citations += new
        return [Cited(**citation) for citation in new]


class _QueueListener:
    """Hands the ring's text and switches to the run, as they happen. Text goes straight to
    the run's text sink when nothing is ahead of it (the queue is empty and its reader waits
    for more): a token then costs no queue round and no wake of the reading task."""

    def __init__(self, queue: asyncio.Queue, run: "AgentRun"):
        self.queue = queue
        self.run = run

    def on_text(self, text: str) -> None:
        run = self.run
        if run.text_sink is not None and run.waiting and not self.queue.qsize():
            run.progress.parts.append(text)
            run.text_sink(text)
        else:
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
        # Where text may go without a Token event, in order with the events: set by a reader
        # that writes text itself (the SSE stream); `waiting` says every event before it was
        # taken (the reader is back, asking for the next one).
        self.text_sink: Callable[[str], None] | None = None
        self.waiting = False

    async def events(self) -> AsyncIterator[TurnEvent]:
        queue: asyncio.Queue = asyncio.Queue()
        runner = asyncio.create_task(self._drive_graph(queue))
        pending = None  # an item read while joining text, handled next
        try:
            while True:
                if pending is None:
                    self.waiting = True
                    try:
                        pending = await queue.get()
                    finally:
                        self.waiting = False
                kind, payload = pending
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
        """The graph's updates into the queue, then exactly one ("end") or ("error"): however
        the run stops (the graph not loading, a cancellation from inside), its reader stops."""
        try:
            await self._stream_graph(queue)
        except asyncio.CancelledError:
            queue.put_nowait(("error", RuntimeError("the agent run was cancelled")))
            raise
        except Exception as exc:
            queue.put_nowait(("error", exc))
            return
        queue.put_nowait(("end", None))

    async def _stream_graph(self, queue: asyncio.Queue) -> None:
        graph = await checkpoints.agent_graph()
        config = {**self.thread, "recursion_limit": RECURSION_LIMIT}
        with listening(_QueueListener(queue, self)), tracing.under(self.trace):
            async for namespace, mode, chunk in graph.astream(
                {"question": self.question},
                config,
                context=self.context,
                # Updates of the team's nodes and of each agent's; "custom" carries the
                # usage of the supervisor's routing call (its message is not kept).
                stream_mode=["updates", "custom"],
                subgraphs=True,
                # One checkpoint write when the turn ends, not one per step: the Message
                # rows already record the turn as it happens.
                durability="exit",
            ):
                if mode == "custom":
                    self.progress.add_usage(chunk.get("usage") or {})
                else:
                    queue.put_nowait(("update", (bool(namespace), chunk)))

    def _node_events(self, update: tuple[bool, dict]) -> list[TurnEvent]:
        """Inside an agent, after its model: the tool calls (and usage); after its tools: their
        results. In the team graph: the handoffs and citations the turn did not tell yet."""
        in_agent, nodes = update
        events: list[TurnEvent] = []
        for node, output in nodes.items():
            output = output or {}
            if not in_agent:
                events += self.progress.hand_off(output.get("handoffs") or [])
                events += self.progress.cite(output.get("citations") or [])
                continue
            for message in output.get("messages", []):
                if node == CALL_MODEL:
                    events += self.progress.account(message)
                elif node == RUN_TOOLS:
                    events.append(_tool_result(message))
        return events

    async def keep_partial_answer(self) -> None:
        """Put a cut-off answer into the agent's state, so the next turn knows what was said."""
        graph = await checkpoints.agent_graph()
        await graph.aupdate_state(
            self.thread, {"messages": [AIMessage(self.progress.text)]}, as_node=NEXT_STEP
        )


def _tool_result(message: ToolMessage) -> ToolResult:
    content = message.content if isinstance(message.content, str) else str(message.content)
    return ToolResult(message.tool_call_id, message.name or "", content)

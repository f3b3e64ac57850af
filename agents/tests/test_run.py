"""AgentRun's event pipeline without a database or a model: a stand-in graph drives it.

What is pinned here: every way a run stops ends its events (no reader left waiting), and text
handed straight to a text sink never overtakes an event queued before it.
"""

import asyncio

import pytest

from agents import checkpoints
from agents.events import AgentChanged, Token
from agents.graph.context import Context
from agents.llm import listener
from agents.run import AgentRun


class ScriptedGraph:
    """`astream` runs `script` (an async function of the run's listener) and yields nothing
    else: the script says what the ring would hand the listener, and when."""

    def __init__(self, script):
        self.script = script

    async def astream(self, *args, **kwargs):
        await self.script(listener.current.get())
        return
        yield  # an async generator


def run_with(monkeypatch, graph) -> AgentRun:
    async def agent_graph():
        if isinstance(graph, Exception):
            raise graph
        return graph

    monkeypatch.setattr(checkpoints, "agent_graph", agent_graph)
    return AgentRun(session_id="s", question="q", context=Context(user_id="u"))


async def drain(run: AgentRun) -> list:
    async with asyncio.timeout(5):  # a run that never ends fails here, not by hanging
        return [event async for event in run.events()]


def test_a_graph_that_does_not_load_ends_the_events_with_its_error(monkeypatch):
    run = run_with(monkeypatch, ConnectionError("checkpoint store down"))
    with pytest.raises(ConnectionError, match="checkpoint store down"):
        asyncio.run(drain(run))


def test_a_cancellation_inside_the_graph_ends_the_events(monkeypatch):
    async def cancelled(_listener):
        raise asyncio.CancelledError

    run = run_with(monkeypatch, ScriptedGraph(cancelled))
    with pytest.raises(RuntimeError, match="cancelled"):
        asyncio.run(drain(run))


def test_text_goes_to_the_sink_only_when_nothing_is_ahead_of_it(monkeypatch):
    async def script(ring_listener):
        ring_listener.on_text("a")  # the reader waits: straight to the sink
        await asyncio.sleep(0.01)
        ring_listener.queue.put_nowait(("update", (False, {"open_turn": {"handoffs": [handoff]}})))
        ring_listener.on_text("b")  # the handoff is queued ahead of it: queued too
        await asyncio.sleep(0.01)
        ring_listener.on_text("c")  # all taken again: to the sink

    handoff = {"name": "general", "from": None, "reason": "The session's agent."}
    seen = []
    run = run_with(monkeypatch, ScriptedGraph(script))
    run.text_sink = lambda text: seen.append(("sink", text))

    async def read():
        async for event in run.events():
            seen.append(("event", event))

    asyncio.run(read())
    assert seen == [
        ("sink", "a"),
        ("event", AgentChanged("general", None, "The session's agent.")),
        ("event", Token("b")),
        ("sink", "c"),
    ]
    assert run.progress.text == "abc"

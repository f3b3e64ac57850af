"""The I/O floor of `bench_chat --floor` streams the model's whole answer as SSE events, so
the figure it gives is the cost of a real turn's bytes, not of a shortcut."""

import asyncio

from agents import sse
from devtools.benchmarks import io_floor
from devtools.llmservers.simulator import SimulatorConfig, running_simulator
from devtools.llmservers.simulator.tokens import echo_reply


def _stream(path: str) -> tuple[list[dict], bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    asyncio.run(io_floor.application(scope, receive, send))
    return sent, b"".join(message.get("body", b"") for message in sent)


def test_the_floor_streams_the_models_whole_answer_then_done(monkeypatch):
    config = SimulatorConfig(ttft_ms=0, tokens_per_s=200, reply_tokens=12)
    with running_simulator(config) as sim:
        monkeypatch.setenv("LLM_BASE_URL", sim.base_url)
        sent, body = _stream("/api/v1/sessions/x/stream")

    assert sent[0]["status"] == 200
    assert sent[-1]["more_body"] is False
    events = list(sse.decode(body.decode().split("\n")))
    text = "".join(data["text"] for name, data in events if name == "token")
    assert text == echo_reply("Tell me something nice.", 12)
    assert [name for name, _ in events][-1] == "done"
    assert len([name for name, _ in events if name == "token"]) < 12  # joined in windows


def test_the_floor_answers_its_health_check():
    sent, body = _stream("/ops/health/live")
    assert sent[0]["status"] == 200
    assert body == b"ok"

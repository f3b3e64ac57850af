"""The floor under a streamed turn's server CPU: a plain ASGI app that does only its I/O.

`bench_chat --floor` serves this instead of agentsite: the same clients, the same simulator,
the same uvicorn. Each stream POSTs to the model through `wire` (pushed, as the ring reads),
splits and parses its events as `streaming` does, and writes the text in 30 ms windows as
`sse` events, as the chat consumer does. No request touches Django (loaded only because the
modules borrowed here import it), auth, the database, LangGraph or Channels. What a real
turn costs beyond this figure is the application; this figure is what its bytes cost here.
"""

import asyncio
import os

import django
from django.conf import settings

django.setup()  # agents.llm's package imports the ring, which reads settings

import httpx  # noqa: E402
import orjson  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from agents import sse  # noqa: E402
from agents.llm import streaming, wire  # noqa: E402

WINDOW_S = settings.SSE_COALESCE_SECONDS  # the chat consumer's window
REQUEST = orjson.dumps(
    {
        "model": "floor",
        "messages": [{"role": "user", "content": "Tell me something nice."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
)
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer not-needed"}
TIMEOUT = httpx.Timeout(60.0, connect=5.0, read=30.0)
CHAT = ChatOpenAI(model="floor", api_key="not-needed")  # reads the rare chunk that is not text


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["path"].startswith("/ops/health"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
        }
    )
    held: list[str] = []
    reading = asyncio.create_task(_read_model(held))
    sequence = 0
    while not reading.done() or held:
        await asyncio.wait({reading}, timeout=WINDOW_S)
        if held:
            sequence += 1
            event = sse.encode(sequence, "token", {"text": "".join(held)})
            held.clear()
            await send({"type": "http.response.body", "body": event, "more_body": True})
    await reading
    done = sse.encode(sequence + 1, "done", {"status": "complete"})
    await send({"type": "http.response.body", "body": done, "more_body": False})


async def _read_model(held: list[str]) -> None:
    url = os.environ.get("LLM_BASE_URL", "http://127.0.0.1:9/v1") + "/chat/completions"
    events = streaming.Events(CHAT, url, lambda piece: held.append(piece.text))
    async with wire.streamed_post(url, HEADERS, REQUEST, TIMEOUT) as response:
        await response.deliver(events.feed)

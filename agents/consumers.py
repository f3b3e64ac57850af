"""POST /api/v1/sessions/{id}/stream: one chat turn as server-sent events (Channels).

This module is the transport only. Before the first byte the request goes through the one
admission path (agents/admission.py: authentication, throttle, media type, parsing, ownership,
quota, the question saved), whose refusals are problem+json responses. Then the turn streams;
`: ping` comments keep idle proxies from closing it; a client that goes away cancels
generation and the answer is kept as `interrupted`.

The turn runs in its own task so that Channels keeps reading the connection and hears the
client leave (AsyncHttpConsumer otherwise reads nothing until `handle` returns).

Every write is a system call, and one per token was a seventh of a turn's server CPU: token
text that comes within `SSE_COALESCE_SECONDS` (30 ms) of the last token written waits for
that window to end and goes out as one `token` event. The first token, and any after a
pause, is written at once. One lock keeps the events in order whoever writes them. The turn
hands text straight to `_hold_text` whenever no other event is ahead of it (ChatTurn.events'
text sink), so most tokens never become events at all.
"""

import asyncio
import contextlib
import io
import logging
import time

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse

from agents import sse
from agents.admission import StreamAdmission
from agents.events import Token
from agents.turns import ChatTurn
from agentsite import context
from agentsite.asyncdb import db_call
from agentsite.errors import problem_response
from agentsite.middleware import REQUEST_ID_HEADER, incoming_request_id

logger = logging.getLogger(__name__)


class ChatStreamConsumer(AsyncHttpConsumer):
    channel_layer_alias = "no-channel-layer"  # a stream needs no group messages

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream_task: asyncio.Task | None = None
        self.request_id = ""
        self.sequence = 0
        self.last_sent = time.monotonic()
        self.writing = asyncio.Lock()  # events leave in order, from the stream or a flush
        self.held_text: list[str] = []  # token text waiting for the end of its window
        self.flush: asyncio.TimerHandle | None = None  # when the held text is due
        self.flush_due: asyncio.Future | None = None  # the flusher waits on it
        self.flush_wanted = False  # held text is due
        self.last_token_sent = 0.0
        self.window = settings.SSE_COALESCE_SECONDS  # read once: `_hold_text` runs per token

    async def dispatch(self, message):
        """As Channels', without closing old database connections around every message:
        this consumer's database work borrows a pooled connection and gives it back
        (agentsite/asyncdb.py), so there is none to close, and each close was a thread hop."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message):
        """Collect the body (never more than the largest allowed), then answer from a task."""
        self.body.append(message.get("body", b""))
        if sum(len(part) for part in self.body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            await self._refuse(
                problem_response(413, "payload_too_large", "The request body is too large.")
            )
            raise StopConsumer()
        if not message.get("more_body"):
            self.stream_task = asyncio.create_task(self._respond(b"".join(self.body)))

    async def disconnect(self):
        """The client left (or the response is complete): stop generating, keep what was said."""
        if self.stream_task is not None and not self.stream_task.done():
            self.stream_task.cancel()
            await asyncio.gather(self.stream_task, return_exceptions=True)

    async def _respond(self, body: bytes):
        request = ASGIRequest(self.scope, io.BytesIO(body))
        self.request_id = incoming_request_id(request)
        context.bind(request_id=self.request_id, user_id=None, session_id=None)
        try:
            admitted = await db_call(StreamAdmission.admit)(
                request, self.scope["url_route"]["kwargs"]["session_id"]
            )
        except Exception:  # an error no handler knows: logged, and a plain 500 problem
            logger.exception("could not admit a chat turn")
            admitted = problem_response(500, "server_error", "Something went wrong on our side.")
        if isinstance(admitted, HttpResponse):
            await self._refuse(admitted)
            return
        await self._stream(admitted)

    async def _stream(self, turn: ChatTurn):
        await self.send_headers(
            status=200,
            headers=[
                (b"Content-Type", b"text/event-stream; charset=utf-8"),
                (b"Cache-Control", b"no-cache, no-transform"),
                (b"X-Accel-Buffering", b"no"),
                (REQUEST_ID_HEADER.encode(), self.request_id.encode()),
            ],
        )
        heartbeat = asyncio.create_task(self._heartbeat())
        flusher = asyncio.create_task(self._flusher())
        # Closed here, whatever way the stream ends: a stream cancelled while it writes (the
        # turn waiting at a `yield`) closes the turn at once, lock and answer, instead of
        # whenever the garbage collector finds the suspended generator.
        events = contextlib.aclosing(turn.events(text_sink=self._hold_text))
        try:
            async with events as turn_events:
                async for event in turn_events:
                    if isinstance(event, Token):
                        self._hold_text(event.text)
                    else:
                        await self._send_event(event.kind, event.data)
        finally:
            heartbeat.cancel()
            flusher.cancel()
            if self.flush is not None:  # the client left: nothing more is written
                self.flush.cancel()
        async with self.writing:
            await self._write_held_text()
            await self.send_body(b"", more_body=False)

    def _hold_text(self, text: str):
        """Token text (an event's, or handed over directly by the turn) for the flusher to
        write: at once when the last token left a window ago, else at the window's end."""
        self.held_text.append(text)
        if self.flush is not None:
            return  # a write is already due; this text goes with it
        wait = self.last_token_sent + self.window - time.monotonic()
        if wait <= 0:
            self._wake_flusher()
        else:
            self.flush = asyncio.get_running_loop().call_later(wait, self._wake_flusher)

    def _wake_flusher(self):
        self.flush = None
        self.flush_wanted = True  # seen after a write still under way, if there is one
        if self.flush_due is not None and not self.flush_due.done():
            self.flush_due.set_result(None)

    async def _flusher(self):
        """Writes the held text when it is due: one task for the stream, woken by the timer
        or the first token after a pause (a task per write cost more than the write)."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.flush_wanted:
                self.flush_due = loop.create_future()
                await self.flush_due
            self.flush_wanted = False
            async with self.writing:
                await self._write_held_text()

    async def _send_event(self, name: str, data: dict):
        """Any other event, after the text before it."""
        async with self.writing:
            await self._write_held_text()
            await self._write(name, data)

    async def _write_held_text(self):
        if self.flush is not None:
            self.flush.cancel()
            self.flush = None
        if self.held_text:
            text = "".join(self.held_text)
            self.held_text.clear()
            self.last_token_sent = time.monotonic()
            await self._write("token", {"text": text})

    async def _write(self, name: str, data: dict):
        self.sequence += 1
        await self.send_body(sse.encode(self.sequence, name, data), more_body=True)
        self.last_sent = time.monotonic()

    async def _heartbeat(self):
        interval = settings.SSE_HEARTBEAT_SECONDS
        while True:
            await asyncio.sleep(max(0.0, self.last_sent + interval - time.monotonic()))
            if time.monotonic() - self.last_sent >= interval:
                await self.send_body(sse.HEARTBEAT, more_body=True)
                self.last_sent = time.monotonic()

    async def _refuse(self, response: HttpResponse):
        response[REQUEST_ID_HEADER] = self.request_id
        headers = [(k.encode(), v.encode()) for k, v in response.items()]
        await self.send_response(response.status_code, response.content, headers=headers)

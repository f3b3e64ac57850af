"""POST /api/v1/sessions/{id}/stream: one chat turn as server-sent events (Channels).

Everything that can refuse the turn happens before the first byte: authentication (JWT bearer,
or session cookie + CSRF), the per-user rate limit, input checks, ownership, the token quota,
and the user's message is saved. Errors until then are problem+json responses. Then the turn
streams; `: ping` comments keep idle proxies from closing it; a client that goes away cancels
generation and the answer is kept as `interrupted`.

The turn runs in its own task so that Channels keeps reading the connection and hears the
client leave (AsyncHttpConsumer otherwise reads nothing until `handle` returns).
"""

import asyncio
import io
import json
import time

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import exceptions

from accounts.authentication import JWTAuthentication
from agents import sse
from agents.serializers import MessageCreateSerializer
from agents.turns import ChatTurn
from agentsite import context
from agentsite.asyncdb import db_call
from agentsite.errors import api_exception_handler
from agentsite.middleware import REQUEST_ID_HEADER, incoming_request_id
from agentsite.ratelimit import UserRateThrottle


class ChatStreamConsumer(AsyncHttpConsumer):
    channel_layer_alias = "no-channel-layer"  # a stream needs no group messages

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream_task: asyncio.Task | None = None
        self.sequence = 0
        self.last_sent = time.monotonic()

    async def http_request(self, message):
        """Collect the body, then answer from a task (see the module docstring)."""
        self.body.append(message.get("body", b""))
        if sum(len(part) for part in self.body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            await self._refuse(exceptions.APIException(), status=413)
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
            turn = await self._begin_turn(request, body)
        except Exception as exc:  # refused before streaming: a problem response
            await self._refuse(exc)
            return
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
        try:
            async for event in turn.events():
                await self._send_event(event.name, event.data)
        finally:
            heartbeat.cancel()
        await self.send_body(b"", more_body=False)

    async def _begin_turn(self, request, body: bytes) -> ChatTurn:
        if request.method != "POST":
            raise exceptions.MethodNotAllowed(request.method)
        return ChatTurn.opened(*await db_call(self._admit)(request, body))

    def _admit(self, request, body: bytes) -> tuple:
        """Everything that may refuse the turn, then its messages saved: one worker thread
        and one pooled connection for all of it (each hop costs a stream CPU time)."""
        user = self._authenticate(request)
        request.user = user
        throttle = UserRateThrottle()
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(throttle.wait())
        content = _message_content(request, body)
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        return user, *ChatTurn.open(user, session_id, content)

    def _authenticate(self, request):
        """A bearer token, or the browser's session cookie with its CSRF token."""
        if request.headers.get("Authorization"):
            result = JWTAuthentication().authenticate(request)
            if result is None:
                raise exceptions.NotAuthenticated()
            return result[0]
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        refused = CsrfViewMiddleware(lambda _: None).process_view(request, None, (), {})
        if refused is not None:
            raise exceptions.PermissionDenied("CSRF verification failed; reload and retry.")
        context.bind(user_id=user.pk)
        return user

    async def _send_event(self, name: str, data: dict):
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

    async def _refuse(self, exc: Exception, status: int | None = None):
        if status == 413:
            response = _problem(413, "payload_too_large", "The request body is too large.")
        else:
            response = api_exception_handler(exc, {}) or _problem(
                500, "server_error", "Something went wrong on our side."
            )
            if response.status_code == 401:
                response["WWW-Authenticate"] = 'Bearer realm="api"'
        response[REQUEST_ID_HEADER] = getattr(self, "request_id", "")
        headers = [(k.encode(), v.encode()) for k, v in response.items()]
        await self.send_response(response.status_code, response.content, headers=headers)


def _problem(status: int, code: str, detail: str):
    from agentsite.errors import problem_response

    return problem_response(status, code, detail)


def _message_content(request, body: bytes) -> str:
    """The sanitized `content` of a JSON body, or the API's usual 4xx."""
    if request.content_type != "application/json":
        raise exceptions.UnsupportedMediaType(request.content_type or "none")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise exceptions.ParseError("The body is not valid JSON.") from None
    incoming = MessageCreateSerializer(data=data)
    incoming.is_valid(raise_exception=True)
    return incoming.validated_data["content"]

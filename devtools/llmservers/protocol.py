"""The OpenAI HTTP wire format, shared by our OpenAI-compatible servers.

Both the LLM simulator (``devtools.llmservers.simulator``) and the local model server speak the
OpenAI chat-completions / embeddings / models protocol. This module holds the protocol part only,
with no knowledge of either server and no dependency beyond the standard library:

* request parsing and validation: :func:`parse_chat_request`, :func:`parse_embeddings_request`
  (invalid input raises :class:`OpenAIError`, which carries the status and the error body);
* response builders: :func:`chat_completion`, :func:`embeddings_response`, :func:`models_response`;
* streaming: :class:`ChunkEncoder` turns deltas (role, content pieces, tool-call headers and
  argument pieces, the finish reason, the final usage chunk of ``stream_options.include_usage``)
  into SSE ``data: {...}\\n\\n`` lines; :data:`SSE_DONE` ends a stream;
* errors in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``:
  :func:`error_body` and ready-made :class:`OpenAIError` factories (401, 404 model_not_found, 429
  rate_limit_exceeded with ``Retry-After``, 400 context_length_exceeded, 500);
* a few plain-ASGI helpers (read a body, send JSON / an error / SSE headers / body bytes,
  route a request, answer the lifespan protocol).

JSON is written compactly (``separators=(",", ":")``, UTF-8, ``ensure_ascii=False``).
"""

from __future__ import annotations

import base64
import json
import math
import sys
import time
import uuid
from array import array
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

JSON = dict[str, Any]
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SSE_DONE = b"data: [DONE]\n\n"
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
DEFAULT_MAX_BODY = 16 * 1024 * 1024
_SEP = (",", ":")


def dumps(obj: Any) -> str:
    """Compact JSON text (UTF-8 characters kept as is)."""
    return json.dumps(obj, separators=_SEP, ensure_ascii=False)


def dumpb(obj: Any) -> bytes:
    """Compact JSON, encoded to UTF-8 bytes."""
    return dumps(obj).encode()


# --------------------------------------------------------------------------------------- errors


def error_body(
    message: str,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> JSON:
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class OpenAIError(Exception):
    """An error answer in OpenAI's shape: HTTP status, error body fields and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = list(headers)

    def to_dict(self) -> JSON:
        return error_body(self.message, self.type, self.code, self.param)

    def __repr__(self) -> str:
        return f"OpenAIError({self.status}, {self.code!r}, {self.message!r})"


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def invalid_api_key() -> OpenAIError:
    return OpenAIError(
        401,
        "Incorrect API key provided. You can obtain an API key from your provider.",
        code="invalid_api_key",
    )


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def not_found(path: str) -> OpenAIError:
    return OpenAIError(404, f"Unknown path: {path}", code="not_found")


def method_not_allowed(method: str, path: str) -> OpenAIError:
    return OpenAIError(405, f"Method {method} is not allowed on {path}", code="method_not_allowed")


def retry_after_headers(retry_after: float) -> list[tuple[str, str]]:
    """``Retry-After`` (whole seconds, rounded up, at least 1) and ``retry-after-ms``."""
    seconds = max(1, math.ceil(retry_after))
    return [
        ("retry-after", str(seconds)),
        ("retry-after-ms", str(max(0, round(retry_after * 1000)))),
    ]


def rate_limit_exceeded(retry_after: float, message: str | None = None) -> OpenAIError:
    """429 with ``Retry-After``; OpenAI uses type ``requests`` for a request-rate limit."""
    seconds = max(1, math.ceil(retry_after))
    return OpenAIError(
        429,
        message or f"Rate limit reached for requests. Please try again in {seconds}s.",
        type="requests",
        code="rate_limit_exceeded",
        headers=retry_after_headers(retry_after),
    )


def context_length_exceeded(
    prompt_tokens: int | None = None, limit: int | None = None, message: str | None = None
) -> OpenAIError:
    if message is None:
        message = (
            f"This model's maximum context length is {limit or 'smaller than your request'} tokens."
            f" However, your messages resulted in {prompt_tokens or 'too many'} tokens."
            " Please reduce the length of the messages."
        )
    return OpenAIError(400, message, code="context_length_exceeded", param="messages")


def server_error(message: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(
        500,
        message or "The server had an error while processing your request. Sorry about that!",
        type="server_error",
        code=code,
    )


# ------------------------------------------------------------------------------------ requests


def message_text(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a list joined by "\\n"."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


@dataclass
class ChatRequest:
    """A validated chat-completions request.

    ``tool_choice`` is normalised to ``"auto"``, ``"none"``, ``"required"`` or ``"named"`` (then
    ``tool_choice_name`` holds the forced function); without tools it is ``"none"``.
    ``max_tokens`` is ``max_completion_tokens`` if given, else ``max_tokens``, else ``None``.
    """

    model: str
    messages: list[JSON]
    tools: list[JSON] = field(default_factory=list)
    tool_choice: str = "none"
    tool_choice_name: str | None = None
    parallel_tool_calls: bool = True
    max_tokens: int | None = None
    stream: bool = False
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)
    n: int = 1
    response_format: JSON | None = None
    raw: JSON = field(default_factory=dict)

    @property
    def tool_specs(self) -> dict[str, JSON]:
        """Offered functions by name: ``{name: {"name", "description"?, "parameters"?}}``."""
        return {t["function"]["name"]: t["function"] for t in self.tools}


def parse_json_body(body: bytes | str) -> JSON:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object.")
    return data


def _positive_int(data: JSON, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid_request(f"'{name}' must be a positive integer.", param=name)
    return value


def parse_chat_request(body: bytes | str | JSON) -> ChatRequest:
    """Validate a ``POST /v1/chat/completions`` body; raises :class:`OpenAIError` (400)."""
    data = body if isinstance(body, dict) else parse_json_body(body)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("'model' is required and must be a non-empty string.", "model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("'messages' must be a non-empty array.", "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in MESSAGE_ROLES:
            raise invalid_request(f"messages[{i}] needs a valid 'role'.", f"messages[{i}].role")
        if msg["role"] == "tool" and not isinstance(msg.get("tool_call_id"), str):
            raise invalid_request(
                f"messages[{i}] with role 'tool' needs 'tool_call_id'.",
                f"messages[{i}].tool_call_id",
            )
    tools = data.get("tools") or []
    if not isinstance(tools, list):
        raise invalid_request("'tools' must be an array.", "tools")
    names = set()
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(fn, dict)
            or tool.get("type", "function") != "function"
            or not isinstance(fn.get("name"), str)
            or not fn["name"]
        ):
            raise invalid_request(
                f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}.",
                f"tools[{i}]",
            )
        names.add(fn["name"])

    raw_choice = data.get("tool_choice")
    choice_name = None
    if raw_choice is None:
        choice = "auto" if tools else "none"
    elif raw_choice in ("auto", "none", "required"):
        choice = raw_choice
    elif isinstance(raw_choice, dict) and isinstance(raw_choice.get("function"), dict):
        choice, choice_name = "named", raw_choice["function"].get("name")
        if choice_name not in names:
            raise invalid_request(
                f"tool_choice names function {choice_name!r}, which is not in 'tools'.",
                "tool_choice",
            )
    else:
        raise invalid_request(
            "'tool_choice' must be 'auto', 'none', 'required' or a named function.",
            "tool_choice",
        )
    if not tools:
        if choice in ("required", "named"):
            raise invalid_request("'tool_choice' needs 'tools'.", "tool_choice")
        choice = "none"

    max_tokens = _positive_int(data, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _positive_int(data, "max_tokens")
    stream = data.get("stream") or False
    if not isinstance(stream, bool):
        raise invalid_request("'stream' must be a boolean.", "stream")
    options = data.get("stream_options")
    if options is not None:
        if not stream:
            raise invalid_request(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        if not isinstance(options, dict):
            raise invalid_request("'stream_options' must be an object.", "stream_options")
    stop = data.get("stop")
    if stop is None:
        stop_list = []
    elif isinstance(stop, str):
        stop_list = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stop_list = list(stop)
    else:
        raise invalid_request("'stop' must be a string or an array of strings.", "stop")
    n = _positive_int(data, "n") or 1
    response_format = data.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise invalid_request("'response_format' must be an object.", "response_format")
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=choice,
        tool_choice_name=choice_name,
        parallel_tool_calls=data.get("parallel_tool_calls", True) is not False,
        max_tokens=max_tokens,
        stream=stream,
        include_usage=bool(options and options.get("include_usage")),
        stop=[s for s in stop_list if s],
        n=n,
        response_format=response_format,
        raw=data,
    )


@dataclass
class EmbeddingsRequest:
    """A validated embeddings request; ``inputs`` holds strings or token-id lists."""

    model: str
    inputs: list[str | list[int]]
    dimensions: int | None = None
    encoding_format: str = "float"
    raw: JSON = field(default_factory=dict)


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    )


def parse_embeddings_request(body: bytes | str | JSON) -> EmbeddingsRequest:
    """Validate a ``POST /v1/embeddings`` body; ``input`` may be a string, a list of strings, a
    token-id list or a list of token-id lists. Raises :class:`OpenAIError` (400)."""
    data = body if isinstance(body, dict) else parse_json_body(body)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("'model' is required and must be a non-empty string.", "model")
    raw = data.get("input")
    inputs: list[str | list[int]]
    if isinstance(raw, str) or (raw and _is_token_list(raw)):
        inputs = [raw]
    elif (
        isinstance(raw, list) and raw and all(isinstance(x, str) or _is_token_list(x) for x in raw)
    ):
        inputs = list(raw)
    else:
        raise invalid_request(
            "'input' must be a string, an array of strings or an array of token arrays.", "input"
        )
    dimensions = _positive_int(data, "dimensions")
    encoding_format = data.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise invalid_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    return EmbeddingsRequest(model, inputs, dimensions, encoding_format, data)


# ----------------------------------------------------------------------------------- responses


def new_completion_id(prefix: str = "chatcmpl-") -> str:
    return prefix + uuid.uuid4().hex[:24]


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> JSON:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class ToolCall:
    """One function call of an assistant message; ``arguments`` is the JSON text."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


def chat_completion(
    *,
    model: str,
    content: str | None,
    tool_calls: list[ToolCall] | None = None,
    finish_reason: str = "stop",
    usage: Usage | None = None,
    completion_id: str | None = None,
    created: int | None = None,
    system_fingerprint: str | None = None,
) -> JSON:
    """A non-streaming ``chat.completion`` object with one choice."""
    message: JSON = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [c.to_dict() for c in tool_calls]
    body: JSON = {
        "id": completion_id or new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "system_fingerprint": system_fingerprint,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if usage is not None:
        body["usage"] = usage.to_dict()
    return body


@lru_cache(maxsize=8192)
def _json_string(piece: str) -> bytes:
    """A JSON string literal; cached, as streamed token pieces repeat a lot."""
    return dumpb(piece)


def sse_data(obj: Any) -> bytes:
    """One SSE event ``data: <compact json>\\n\\n``."""
    return b"data: " + dumpb(obj) + b"\n\n"


class ChunkEncoder:
    """Builds the SSE lines of one streamed ``chat.completion.chunk`` response (choice 0).

    Every method returns ready-to-send bytes. A typical stream is ``role()``, then ``content(p)``
    per token piece (or ``tool_call_start`` + ``tool_call_arguments`` per call), ``finish(reason)``,
    ``usage(u)`` when ``include_usage`` (then every other chunk carries ``"usage": null``, like
    OpenAI), and :data:`SSE_DONE`. Content chunks use a precomputed prefix and suffix, so only the
    piece is JSON-encoded on the hot path.
    """

    def __init__(
        self,
        model: str,
        *,
        completion_id: str | None = None,
        created: int | None = None,
        include_usage: bool = False,
        system_fingerprint: str | None = None,
    ) -> None:
        self.id = completion_id or new_completion_id()
        self.model = model
        self.created = int(time.time()) if created is None else created
        self.include_usage = include_usage
        self.system_fingerprint = system_fingerprint
        head = dumps(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": model,
                "system_fingerprint": system_fingerprint,
            }
        )[:-1]
        self._head = head
        self._content_prefix = f'data: {head},"choices":[{{"index":0,"delta":{{"content":'.encode()
        tail = ',"usage":null' if include_usage else ""
        self._content_suffix = f'}},"logprobs":null,"finish_reason":null}}]{tail}}}\n\n'.encode()

    def _base(self, choices: list[JSON]) -> JSON:
        chunk: JSON = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.system_fingerprint,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def delta(self, delta: JSON, finish_reason: str | None = None) -> bytes:
        """Any delta, as one SSE line."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse_data(self._base([choice]))

    def role(self, content: str | None = "") -> bytes:
        """The opening chunk: ``{"role": "assistant", "content": ""}`` (``None`` for tool calls)."""
        return self.delta({"role": "assistant", "content": content, "refusal": None})

    def content(self, piece: str) -> bytes:
        return self._content_prefix + _json_string(piece) + self._content_suffix

    def tool_call_start(self, index: int, call_id: str, name: str, arguments: str = "") -> bytes:
        """The first delta of tool call ``index``: id, type, name (and usually empty arguments)."""
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return self.delta({"tool_calls": [call]})

    def tool_call_arguments(self, index: int, piece: str) -> bytes:
        return self.delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})

    def finish(self, finish_reason: str) -> bytes:
        return self.delta({}, finish_reason)

    def usage(self, usage: Usage) -> bytes:
        """The final usage chunk of ``stream_options.include_usage``: empty ``choices``."""
        chunk = self._base([])
        chunk["usage"] = usage.to_dict()
        return sse_data(chunk)


def encode_embedding(vector: list[float], encoding_format: str = "float") -> list[float] | str:
    """A vector as a float list, or as base64 of little-endian float32 (``encoding_format``)."""
    if encoding_format == "base64":
        packed = array("f", vector)
        if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
            packed.byteswap()
        return base64.b64encode(packed.tobytes()).decode()
    return vector


def embeddings_response(
    model: str, vectors: list[list[float]], prompt_tokens: int, encoding_format: str = "float"
) -> JSON:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_embedding(v, encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def models_response(names: Iterable[str], owned_by: str = "system", created: int = 0) -> JSON:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": owned_by}
            for name in names
        ],
    }


# ---------------------------------------------------------------------------------- ASGI bits


def header(scope: Scope, name: str) -> str | None:
    """The first request header ``name`` (lower case), decoded as latin-1."""
    key = name.lower().encode()
    for k, v in scope.get("headers") or ():
        if k == key:
            return v.decode("latin-1")
    return None


def bearer_token(scope: Scope) -> str | None:
    value = header(scope, "authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def read_body(receive: Receive, limit: int = DEFAULT_MAX_BODY) -> bytes:
    """The whole request body; 413 :class:`OpenAIError` past ``limit`` bytes."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("client disconnected while sending the body")
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            raise OpenAIError(413, f"The request body exceeds {limit} bytes.", code="too_large")
        chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _headers(content_type: bytes, extra: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    out = [(b"content-type", content_type)]
    out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra)
    return out


async def send_json(
    send: Send, status: int, obj: Any, headers: Iterable[tuple[str, str]] = ()
) -> None:
    body = dumpb(obj)
    hdrs = _headers(b"application/json", headers)
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_error(send: Send, error: OpenAIError) -> None:
    await send_json(send, error.status, error.to_dict(), error.headers)


async def start_sse(send: Send, headers: Iterable[tuple[str, str]] = ()) -> None:
    """Send 200 ``text/event-stream`` headers (no caching, no proxy buffering)."""
    extra = [("cache-control", "no-cache"), ("x-accel-buffering", "no"), *headers]
    hdrs = _headers(b"text/event-stream; charset=utf-8", extra)
    await send({"type": "http.response.start", "status": 200, "headers": hdrs})


async def send_body(send: Send, data: bytes, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def tool_call_key(name: str, arguments: Any) -> tuple[str, str]:
    """A tool call's identity (name, canonical JSON arguments): the same call asked twice
    compares equal however its arguments were spaced or ordered."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return name, arguments
    return name, json.dumps(arguments, sort_keys=True, separators=(",", ":"))


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def find_handler(routes: Mapping[str, Mapping[str, Handler]], scope: Scope) -> Handler:
    """The handler of the request's path (trailing slash ignored) and method, or a 404 / 405."""
    path = scope["path"].rstrip("/") or "/"
    methods = routes.get(path)
    if methods is None:
        raise not_found(path)
    handler = methods.get(scope["method"])
    if handler is None:
        raise method_not_allowed(scope["method"], path)
    return handler


class TrackedSend:
    """`send` that remembers whether the response has started: after that, a failure can no
    longer become an error response."""

    def __init__(self, send: Send):
        self.send = send
        self.started = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


async def lifespan(
    receive: Receive, send: Send, *, startup: Callable[[], Any], shutdown: Callable[[], Any]
) -> None:
    """Answer ASGI's lifespan protocol, calling `startup` and `shutdown` on the way."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the ASGI client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass

"""One HTTP call to a model, as pieces: streamed (SSE lines read by us) or one whole answer.

The SDK's request pipeline and per-chunk objects cost more CPU than everything else in a chat
turn, so both kinds send the request themselves (a stream through `wire`, a lean HTTP/1.1
reader; a plain call through our own httpx pool); ChatOpenAI builds the payload and
reads the answer (the whole one, and the rare chunk that is more than text). Sending it
ourselves also keeps every parameter as given: ChatOpenAI would route a call carrying
`response_format` through the SDK's structured-output parser. Errors are the SDK's own
exception classes, so `failures.classify` reads them all alike.
"""

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import openai
import orjson
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.llm import wire
from agents.llm.clients import ModelClient


@dataclass(slots=True)
class Piece:
    """What one provider chunk adds: text, and rarely tool-call fragments, usage, an end."""

    text: str = ""
    tool_call_chunks: list = field(default_factory=list)
    usage: dict | None = None
    finish_reason: str | None = None


def _request(client: ModelClient, messages, *, stop, timeout, **params) -> httpx.Request:
    """The chat completion request as ChatOpenAI would write it, every parameter in the body."""
    payload = client.chat._get_request_payload(messages, stop=stop, **params)
    url, headers = _target(client)
    headers.pop("Accept")
    return client.http.build_request("POST", url, json=payload, headers=headers, timeout=timeout)


async def _raise_for_status(client: ModelClient, response: httpx.Response) -> None:
    if response.status_code >= 400:
        await response.aread()
        raise client.chat.root_async_client._make_status_error_from_response(response)


async def streamed(client: ModelClient, messages, *, stop, timeout, take, **kwargs) -> None:
    """A streamed call, sent and read by `wire` (not httpx: see there): each piece goes to
    `take` as its bytes arrive, from the connection's own callback (no task wake per token)."""
    async with _stream_response(client, messages, stop, timeout, kwargs) as (response, url):
        await response.deliver(Events(client.chat, url, take).feed)


async def streamed_pieces(client: ModelClient, messages, *, stop, timeout, **kwargs):
    """The same call as an iterator of pieces, for a caller that yields each one on."""
    pieces: list[Piece] = []
    async with _stream_response(client, messages, stop, timeout, kwargs) as (response, url):
        events = Events(client.chat, url, pieces.append)
        async for data in response.chunks():
            failure = None
            try:
                done = events.feed(data)
            except Exception as exc:  # raised after the pieces before it, as they came
                failure, done = exc, True
            for piece in pieces:
                yield piece
            pieces.clear()
            if failure is not None:
                raise failure
            if done:
                return


@contextlib.asynccontextmanager
async def _stream_response(client: ModelClient, messages, stop, timeout, kwargs):
    """The streamed POST with its head read; an error status raised as the SDK would."""
    chat = client.chat
    payload = chat._get_request_payload(
        messages, stop=stop, stream=True, stream_options={"include_usage": True}, **kwargs
    )
    url, headers = _target(client)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    async with wire.streamed_post(url, headers, body.encode(), timeout) as response:
        if response.status_code >= 400:
            content = await response.read()
            raise chat.root_async_client._make_status_error_from_response(
                httpx.Response(
                    response.status_code,
                    headers=response.headers,
                    content=content,
                    request=httpx.Request("POST", url),
                )
            )
        yield response, url


def _target(client: ModelClient) -> tuple[str, dict[str, str]]:
    endpoint = client.endpoint
    headers = {
        "Authorization": f"Bearer {endpoint.api_key or 'not-needed'}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
    }
    return f"{endpoint.base_url}/chat/completions", headers


class Events:
    """The `data:` lines of a server-sent event stream, split from the bytes as they arrive,
    each chunk given to `take` as a piece."""

    def __init__(self, chat, url: str, take: Callable[[Piece], None]):
        self.chat, self.url, self.take = chat, url, take
        self.pending = b""

    def feed(self, data: bytes) -> bool:
        """Take the events these bytes complete; True once the stream said [DONE]."""
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return True
            chunk = orjson.loads(data)  # a fifth of json.loads' time, once per token
            if chunk.get("error"):
                raise openai.APIError(
                    str(chunk["error"].get("message", "error in stream")),
                    httpx.Request("POST", self.url),
                    body=chunk,
                )
            self.take(_piece(self.chat, chunk))
        return False


def _piece(chat, chunk: dict) -> Piece:
    choices = chunk.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    if not chunk.get("usage") and delta.keys() <= {"content", "role", "refusal"}:
        return Piece(text=delta.get("content") or "", finish_reason=choices[0].get("finish_reason"))
    generation = chat._convert_chunk_to_generation_chunk(chunk, AIMessageChunk, {})
    if generation is None:
        return Piece()
    message = generation.message
    return Piece(
        text=message.content if isinstance(message.content, str) else "",
        tool_call_chunks=message.tool_call_chunks,
        usage=message.usage_metadata,
        finish_reason=(generation.generation_info or {}).get("finish_reason"),
    )


async def whole(client: ModelClient, messages, *, stop, timeout, take, **kwargs) -> None:
    """A plain (non-streamed) response as a single piece, so both kinds share one pipeline."""
    request = _request(client, messages, stop=stop, timeout=timeout, stream=False, **kwargs)
    response = await client.http.send(request)
    await _raise_for_status(client, response)
    result = client.chat._create_chat_result(response.json())
    message = result.generations[0].message
    take(
        Piece(
            text=message.content if isinstance(message.content, str) else "",
            tool_call_chunks=[
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": n,
                }
                for n, call in enumerate(message.tool_calls)
            ],
            usage=message.usage_metadata,
            finish_reason=(result.generations[0].generation_info or {}).get("finish_reason")
            or message.response_metadata.get("finish_reason"),
        )
    )


async def collect(items: AsyncIterator[str | AIMessageChunk], sent: list[str]) -> ChatResult:
    """One message from a call: the text sent (`sent`, joined once), tool calls and usage
    from the final chunk."""
    final = None
    async for item in items:
        if not isinstance(item, str):
            final = item
    message = AIMessage(
        content="".join(sent),
        tool_calls=final.tool_calls,
        invalid_tool_calls=final.invalid_tool_calls,
        usage_metadata=final.usage_metadata,
        response_metadata=final.response_metadata,
    )
    return ChatResult(generations=[ChatGeneration(message=message)])

"""A lean HTTP/1.1 client for a model's streamed answer: one POST, then its body as it comes.

httpx reads a stream through httpcore, h11 and anyio: a cancel scope, two timeouts, a state
machine and an event object for every socket read. At one read per token that was about 45%
of a chat turn's server CPU (py-spy, issue 15). A streamed answer needs none of it: a status
line, headers, then chunked bytes. This module does exactly that on an asyncio `Protocol`,
keeps connections alive per event loop (and per host), and raises httpx's own exception
classes (`ConnectError`, `ReadTimeout`, `RemoteProtocolError`...), so `failures.classify`
reads its failures like any others. Plain calls keep httpx.

A silence longer than the read timeout is caught by one timer per connection, moved on only
when it fires (a timer per read cost more than the read).

A body is read either as an iterator (`chunks()`) or pushed (`deliver(take)`): then the
connection's own `data_received` unframes the bytes and hands them to `take` at once, and the
reading task sleeps until the body ends. At one read per token, the task's wake and the
generators it resumed were about a fifth of a streamed call's CPU (6.8 → 5.5 ms per call of
150 tokens, 50 calls at once, in an in-process harness of the ring).
"""

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

from agentsite.loops import loop_local

MAX_HEAD_BYTES = 64 * 1024
IDLE_PER_HOST = 200  # kept-alive connections per host and loop, as the httpx pool had


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """httpx's own context: certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set."""
    return httpx.create_ssl_context()


@lru_cache(maxsize=64)
def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request path) of an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes in a buffer, one waiter woken when more arrive."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost: Exception | None = None
        self.used = False  # carried an earlier response (the server may have closed it since)
        self.watchdog: asyncio.TimerHandle | None = None
        self.silence = 0.0
        self.waiting_since = 0.0
        self.reader: Callable[[], None] | None = None  # takes what arrives, while pushing
        self.loop: asyncio.AbstractEventLoop | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes):
        self.received += data
        if self.reader is None:
            self._wake()
            return
        self.waiting_since = self.loop.time()  # the silence the watchdog measures restarts
        self.reader()

    def eof_received(self):
        self.lost = self.lost or httpx.RemoteProtocolError("the server closed the connection")
        self._wake()
        return False

    def connection_lost(self, exc):
        self.lost = self.lost or httpx.ReadError(str(exc) if exc else "connection closed")
        self._wake()

    def _wake(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def usable(self) -> bool:
        return self.lost is None and self.transport is not None and not self.transport.is_closing()

    async def more(self, silence: float) -> None:
        """Wait for more bytes (or the end); a silence longer than `silence` is a ReadTimeout.
        One timer watches every wait: it is moved on only when it fires, not at every read."""
        if self.lost is not None:
            raise self.lost
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.silence, self.waiting_since = silence, loop.time()
        if self.watchdog is None:
            self.watchdog = loop.call_at(self.waiting_since + silence, self._watch)
        try:
            await self.waiter
        finally:
            self.waiter = None
        if not self.received and self.lost is not None:
            raise self.lost

    def _watch(self):
        self.watchdog = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # not waiting: the next wait sets the watch again
        due = self.waiting_since + self.silence
        loop = asyncio.get_running_loop()
        if loop.time() >= due:
            waiter.set_exception(httpx.ReadTimeout("the model was silent for too long"))
        else:
            self.watchdog = loop.call_at(due, self._watch)

    def close(self):
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.transport is not None:
            self.transport.close()


class _Pool:
    """Idle connections of one event loop, by (scheme, host, port)."""

    def __init__(self):
        self.idle: dict[tuple, deque[_Connection]] = {}

    def take(self, key) -> _Connection | None:
        idle = self.idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable and not connection.received:
                return connection
            connection.close()
        return None

    def give_back(self, key, connection: _Connection):
        idle = self.idle.setdefault(key, deque())
        if len(idle) >= IDLE_PER_HOST:
            connection.close()
            return
        connection.used = True
        idle.append(connection)


def _pool() -> _Pool:
    return loop_local("wire-pool", _Pool)


async def _connect(scheme: str, host: str, port: int, timeout: float) -> _Connection:
    loop = asyncio.get_running_loop()
    tls = _tls() if scheme == "https" else None
    try:
        async with asyncio.timeout(timeout):
            _, connection = await loop.create_connection(
                _Connection, host, port, ssl=tls, server_hostname=host if tls else None
            )
    except TimeoutError as exc:
        raise httpx.ConnectTimeout(f"no connection to {host}:{port} in {timeout:.1f} s") from exc
    except OSError as exc:
        raise httpx.ConnectError(f"{host}:{port}: {exc}") from exc
    return connection


class Response:
    """A response whose head is read; its body is read with `chunks()` or `read()`."""

    def __init__(self, connection: _Connection, key, status: int, headers, silence: float):
        self._connection = connection
        self._key = key
        self.status_code = status
        self.headers = headers  # [(name lowercased, value)] as text
        self._silence = silence
        fields = dict(headers)
        self._chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        length = fields.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else None
        self._keep_alive = fields.get("connection", "").lower() != "close"
        self._chunk_left = 0  # bytes of the current chunk still to come
        self._after_chunk = False  # the CRLF after a chunk's data is still to come
        self._done = False
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (chunked framing removed)."""
        connection = self._connection
        while not self._done:
            data = self._unframe(connection.received) if connection.received else b""
            if data:
                yield data
                continue
            if self._done:
                return
            await self._more()

    async def read(self) -> bytes:
        return b"".join([part async for part in self.chunks()])

    async def deliver(self, take: Callable[[bytes], bool]) -> None:
        """Hand the body's bytes to `take` as they arrive, from `data_received` (no task wake
        per read), until the body ends or `take` returns True; raises what `take` raised.
        `take` runs in the connection's callback, not in the reading task's context: what it
        needs of the caller it must hold itself, not read from context variables."""
        connection = self._connection
        failure: BaseException | None = None
        stopped = False

        def push():
            nonlocal failure, stopped
            try:
                data = self._unframe(connection.received)
                stopped = bool(data) and take(data)
            except Exception as exc:  # the reading task raises it
                failure = exc
            if failure is not None or stopped or self._done:
                connection.reader = None
                connection._wake()

        connection.reader = push
        try:
            if connection.received:
                push()
            while failure is None and not stopped and not self._done:
                await self._more()
        finally:
            connection.reader = None
        if failure is not None:
            raise failure

    async def _more(self) -> None:
        """Wait for more of the body; one that ends when the server closes ends there."""
        if self._left is None and not self._chunked:
            try:
                await self._connection.more(self._silence)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                self._done, self._keep_alive = True, False
            return
        await self._connection.more(self._silence)  # what is left is incomplete: wait

    def _unframe(self, received: bytearray) -> bytes:
        if not self._chunked:
            if self._left is None:
                data = bytes(received)
            else:
                data = bytes(received[: self._left])
                self._left -= len(data)
                self._done = self._left == 0
            del received[: len(data)]
            return data
        parts = []
        position = 0
        while True:
            if self._chunk_left:
                part = received[position : position + self._chunk_left]
                parts.append(bytes(part))
                position += len(part)
                self._chunk_left -= len(part)
                if self._chunk_left:
                    break
                self._after_chunk = True
            if self._after_chunk:
                if len(received) - position < 2:
                    break
                position += 2
                self._after_chunk = False
            end = received.find(b"\r\n", position)
            if end < 0:
                break
            try:
                size = int(bytes(received[position:end]).split(b";")[0], 16)
            except ValueError as exc:
                raise httpx.RemoteProtocolError("malformed chunk size") from exc
            position = end + 2
            if size == 0:  # the last chunk; reuse only after an empty trailer, as is usual
                self._done = True
                self._keep_alive &= bytes(received[position:]) == b"\r\n"
                position = len(received)
                break
            self._chunk_left = size
        del received[:position]
        return b"".join(parts)

    def close(self):
        """Give the connection back when the body was read to its end, else close it."""
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        if self._done and self._keep_alive and connection.usable and not connection.received:
            _pool().give_back(self._key, connection)
        else:
            connection.close()


async def post(url: str, headers: dict[str, str], body: bytes, timeout: httpx.Timeout) -> Response:
    """Send a POST and read its status line and headers. A kept-alive connection that the
    server closed meanwhile is replaced once, before anything of the answer was read."""
    scheme, host, port, path = _target(url)
    key = (scheme, host, port)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    silence = timeout.read if timeout.read is not None else 60.0
    connect = timeout.connect if timeout.connect is not None else 5.0
    while True:
        connection = _pool().take(key) or await _connect(scheme, host, port, connect)
        connection.transport.write(request)
        try:
            status, fields = await _head(connection, silence)
        except httpx.TransportError:
            connection.close()
            if connection.used and connection.lost is not None and not connection.received:
                continue  # a stale kept-alive connection: once more on a new one
            raise
        except BaseException:
            connection.close()
            raise
        return Response(connection, key, status, fields, silence)


async def _head(connection: _Connection, silence: float):
    while True:
        end = connection.received.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(connection.received) > MAX_HEAD_BYTES:
            raise httpx.RemoteProtocolError("response head too large")
        await connection.more(silence)
    head = bytes(connection.received[:end]).decode("latin-1").split("\r\n")
    del connection.received[: end + 4]
    try:
        status = int(head[0].split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise httpx.RemoteProtocolError(f"malformed status line {head[0][:80]!r}") from exc
    fields = []
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields.append((name.strip().lower(), value.strip()))
    return status, fields


@contextlib.asynccontextmanager
async def streamed_post(url, headers, body, timeout):
    """`post`, its connection given back (or closed) however the caller leaves."""
    response = await post(url, headers, body, timeout)
    try:
        yield response
    finally:
        response.close()

"""The lean HTTP/1.1 reader of streamed answers, against a tiny server of the test's own."""

import asyncio

import httpx
import pytest

from agents.llm import wire

TIMEOUT = httpx.Timeout(5.0, connect=5.0, read=5.0)


def _chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return body + b"0\r\n\r\n"


class Server:
    """Answers every request on a connection with `responses` in turn, written in pieces of
    `piece` bytes (`pause` seconds apart); counts connections; closes after one answer with
    `close_after`."""

    def __init__(self, responses, *, piece=0, pause=0.0, close_after=False, silent=False):
        self.responses = responses
        self.piece, self.pause, self.close_after, self.silent = piece, pause, close_after, silent
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1/chat"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                if self.silent:
                    await asyncio.sleep(10)
                answer = self.responses[(len(self.requests) - 1) % len(self.responses)]
                step = self.piece or len(answer)
                for start in range(0, len(answer), step):
                    writer.write(answer[start : start + step])
                    await writer.drain()
                    if self.pause:
                        await asyncio.sleep(self.pause)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body


async def _post(url) -> tuple[int, bytes]:
    async with wire.streamed_post(url, {"X-Test": "1"}, b'{"a":1}', TIMEOUT) as response:
        return response.status_code, await response.read()


def test_a_chunked_body_split_anywhere_is_read_whole():
    body = _chunked(b"data: one\n\n", b"data: two\n", b"\ndata: [DONE]\n\n")

    async def scenario():
        async with Server([_ok(body)], piece=1) as server:
            return await _post(server.url), server.requests[0]

    (status, content), request = asyncio.run(scenario())
    assert status == 200
    assert content == b"data: one\n\ndata: two\n\ndata: [DONE]\n\n"
    assert request.startswith(b"POST /v1/chat HTTP/1.1\r\n")
    assert b"X-Test: 1\r\n" in request
    assert request.endswith(b'{"a":1}')


def test_a_finished_connection_is_kept_alive_and_reused():
    async def scenario():
        async with Server([_ok(_chunked(b"x"))]) as server:
            answers = [await _post(server.url), await _post(server.url)]
            return answers, server.connections

    answers, connections = asyncio.run(scenario())
    assert answers == [(200, b"x"), (200, b"x")]
    assert connections == 1


def test_a_kept_alive_connection_the_server_closed_is_replaced():
    async def scenario():
        async with Server([_ok(_chunked(b"x"))], close_after=True) as server:
            first = await _post(server.url)
            await asyncio.sleep(0.05)  # the server's close reaches the idle connection
            return first, await _post(server.url), server.connections

    first, second, connections = asyncio.run(scenario())
    assert first == second == (200, b"x")
    assert connections == 2


def test_a_content_length_body_and_an_error_status():
    answer = b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 7\r\n\r\n{"e":1}'

    async def scenario():
        async with Server([answer]) as server:
            return await _post(server.url)

    assert asyncio.run(scenario()) == (500, b'{"e":1}')


def test_a_silent_server_is_a_read_timeout():
    async def scenario():
        async with Server([_ok(b"")], silent=True) as server:
            timeout = httpx.Timeout(5.0, connect=5.0, read=0.05)
            async with wire.streamed_post(server.url, {}, b"{}", timeout):
                pass

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(scenario())


@pytest.mark.parametrize("read", ["iterated", "pushed"])
def test_a_body_cut_short_is_a_transport_error(read):
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"

    async def scenario():
        async with Server([cut], close_after=True) as server:
            return await (_post if read == "iterated" else _pushed)(server.url)

    with pytest.raises(httpx.TransportError):
        asyncio.run(scenario())


def test_nobody_listening_is_a_connect_error():
    with pytest.raises(httpx.ConnectError):
        asyncio.run(_post("http://127.0.0.1:9/v1"))


async def _pushed(url, stop_at: bytes | None = None, fail_at: bytes | None = None, timeout=TIMEOUT):
    """The body as `deliver` hands it over: the pieces `take` got, in order."""
    taken: list[bytes] = []

    def take(data: bytes) -> bool:
        taken.append(data)
        if fail_at is not None and fail_at in b"".join(taken):
            raise ValueError("take refused")
        return stop_at is not None and stop_at in b"".join(taken)

    async with wire.streamed_post(url, {}, b"{}", timeout) as response:
        await response.deliver(take)
    return taken


def test_a_pushed_body_split_anywhere_arrives_whole_and_in_order():
    body = _chunked(b"data: one\n\n", b"data: two\n", b"\ndata: [DONE]\n\n")

    async def scenario():
        async with Server([_ok(body)], piece=7, pause=0.005) as server:
            return await _pushed(server.url), await _pushed(server.url), server.connections

    first, second, connections = asyncio.run(scenario())
    assert b"".join(first) == b"".join(second) == b"data: one\n\ndata: two\n\ndata: [DONE]\n\n"
    assert len(first) > 3  # handed over as the pieces came, not once at the end
    assert connections == 1  # read to its end: kept alive and used again


def test_push_stops_when_take_says_so_and_the_connection_is_not_reused():
    body = _chunked(b"data: one\n\n", b"data: [DONE]\n\n", b"data: after\n\n")

    async def scenario():
        async with Server([_ok(body)], piece=5, pause=0.005) as server:
            taken = await _pushed(server.url, stop_at=b"[DONE]")
            await _pushed(server.url)
            return taken, server.connections

    taken, connections = asyncio.run(scenario())
    assert b"after" not in b"".join(taken)
    assert connections == 2  # left mid-body: closed, never given back


def test_what_take_raises_is_raised_by_deliver():
    body = _chunked(b"data: one\n\n", b"data: bad\n\n", b"data: three\n\n")

    async def scenario():
        async with Server([_ok(body)], piece=4, pause=0.005) as server:
            await _pushed(server.url, fail_at=b"bad")

    with pytest.raises(ValueError, match="take refused"):
        asyncio.run(scenario())


def test_a_pushed_stream_is_timed_per_silence_not_as_a_whole():
    """Data every 30 ms for 0.3 s under a 0.1 s read timeout: no timeout; then silence is one."""
    parts = [b"data: %d\n\n" % n for n in range(10)]

    async def slow(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in parts:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.03)
        await asyncio.sleep(1)  # then silent, the body unfinished
        writer.close()

    async def scenario():
        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        taken: list[bytes] = []
        timeout = httpx.Timeout(5.0, connect=5.0, read=0.1)
        try:
            async with wire.streamed_post(url, {}, b"{}", timeout) as response:
                with pytest.raises(httpx.ReadTimeout):
                    await response.deliver(lambda data: taken.append(data) and False)
        finally:
            server.close()
        return taken

    assert b"".join(asyncio.run(scenario())) == b"".join(parts)  # all of it, then the timeout


@pytest.mark.parametrize("read", ["iterated", "pushed"])
def test_a_body_that_ends_when_the_server_closes_is_read_whole(read):
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: one\n\ndata: two\n\n"

    async def scenario():
        async with Server([answer], piece=9, pause=0.005, close_after=True) as server:
            if read == "iterated":
                return (await _post(server.url))[1]
            return b"".join(await _pushed(server.url))

    assert asyncio.run(scenario()) == b"data: one\n\ndata: two\n\n"

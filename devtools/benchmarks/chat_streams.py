"""N concurrent chat streams against the real ASGI server, the LLM simulator as the model.

The simulator (its own process) answers after 300 ms at 50 tokens/s, 150 tokens; whatever the
clients see beyond that is what agentsite adds: auth, rate limit, quota, saving messages, the
checkpoint, LangGraph, the model ring and SSE. The clients are plain asyncio sockets (an HTTP
library would spend more CPU parsing than the server does serving, on the same two cores).

N concurrent streams means N people each chatting continuously: every client starts at a
random moment within one stream's length, then opens its next stream as soon as the last one
ends, for a fixed time. Streams that began during that first stagger are warm-up and are not
counted. A burst (`--burst`) is the other test, a thundering herd: N people, each with their
own session, send one streamed turn at the same moment; its wall time runs from the first
request to the last `done`.
"""

import asyncio
import json
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

import psutil

SIM_TTFT_S = 0.3
SIM_TOKENS_PER_S = 50
SIM_TOKENS = 150
STREAM_SECONDS = SIM_TTFT_S + SIM_TOKENS / SIM_TOKENS_PER_S
# A stream that has not ended by then counts as incomplete: the run always stops by itself.
STREAM_TIMEOUT_S = 120.0


@dataclass
class StreamResult:
    ok: bool = False
    ttft: float | None = None
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    error: str = ""


async def _read_chunked(reader):
    """Yield the body of a chunked HTTP/1.1 response piece by piece."""
    while True:
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def one_stream(port: int, session_id: str, token: str, content: str) -> StreamResult:
    result = StreamResult()
    body = json.dumps({"content": content}).encode()
    head = (
        f"POST /api/v1/sessions/{session_id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(STREAM_TIMEOUT_S):
            await _read_stream(port, head + body, result, started)
    except TimeoutError:
        result.ok = False
        result.error = f"no end after {STREAM_TIMEOUT_S:.0f} s"
    return result


async def _read_stream(port: int, request: bytes, result: StreamResult, started: float):
    """One request and its event stream, read into `result` as the events arrive."""
    last = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        status = (await reader.readline()).split()[1]
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if status != b"200":
            result.error = f"HTTP {status.decode()}"
            return
        buffer = b""
        async for piece in _read_chunked(reader):
            buffer += piece
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if b"event: token" in event:  # may carry several tokens when the server is busy
                    now = time.perf_counter()
                    if last is None:
                        result.ttft = now - started
                    else:
                        result.gaps.append(now - last)
                    last = now
                    result.tokens += 1
                elif b"event: done" in event:
                    result.ok = True
                elif b"event: error" in event:
                    result.error = event.decode()
        writer.close()
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        result.error = repr(exc)


def _server_processes(pid: int) -> list[psutil.Process]:
    """The server and its workers (uvicorn --workers runs each in a child process)."""
    server = psutil.Process(pid)
    return [server, *server.children(recursive=True)]


class PeakMemory:
    """Samples the server's resident memory (all its processes) every 50 ms in a thread."""

    def __init__(self, pid: int):
        self.processes = _server_processes(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            rss = sum(process.memory_info().rss for process in self.processes)
            self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _cpu_seconds(pid: int) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in _server_processes(pid))


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _client_loop(port, session, token, deadline, warmup_end, results, counter):
    await asyncio.sleep(random.uniform(0, STREAM_SECONDS))  # noqa: S311 (load shape)
    turn = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        result = await one_stream(port, session, token, f"message {turn}")
        if started >= warmup_end:
            results.append(result)
        counter[0] += 1
        turn += 1


async def _steady_load(port: int, clients, seconds: float) -> tuple[list[StreamResult], int]:
    """The counted results, and how many streams ran in all (warm-up included)."""
    results: list[StreamResult] = []
    counter = [0]
    now = time.perf_counter()
    deadline, warmup_end = now + seconds, now + STREAM_SECONDS
    await asyncio.gather(
        *(_client_loop(port, s, t, deadline, warmup_end, results, counter) for s, t in clients)
    )
    return results, counter[0]


async def _burst(port: int, clients) -> tuple[list[StreamResult], int]:
    """Every client's one turn at the same moment: the results, and all of them ran."""
    results = await asyncio.gather(
        *(one_stream(port, session, token, "message 0") for session, token in clients)
    )
    return list(results), len(results)


def summarize(results: list[StreamResult], peak_rss: int) -> dict:
    complete = [r for r in results if r.ok]
    ttfts = [r.ttft - SIM_TTFT_S for r in complete if r.ttft is not None]
    gaps = [gap - 1 / SIM_TOKENS_PER_S for r in complete for gap in r.gaps]
    return {
        "streams": len(results),
        "complete_pct": 100 * len(complete) / len(results),
        "added_ttft_ms_p50": 1000 * statistics.median(ttfts) if ttfts else float("nan"),
        "added_ttft_ms_p95": 1000 * percentile(ttfts, 95),
        "added_ttft_ms_p99": 1000 * percentile(ttfts, 99),
        "added_gap_ms_p95": 1000 * percentile(gaps, 95),
        "server_peak_rss_mb": peak_rss / 2**20,
        "errors": sorted({r.error[:120] for r in results if r.error})[:3],
    }


def run(port: int, server_pid: int, clients, sizes, seconds: float, *, burst: bool = False):
    """For each N: N clients, each with its own person and session, chatting for `seconds`
    (or, in a burst, sending one turn each at the same moment)."""
    asyncio.run(_steady_load(port, clients[:5], STREAM_SECONDS))  # warm the server up
    figures = []
    offset = 5
    for size in sizes:
        batch = clients[offset : offset + size]
        offset += size
        cpu_before = _cpu_seconds(server_pid)
        started = time.perf_counter()
        with PeakMemory(server_pid) as memory:
            load = _burst(port, batch) if burst else _steady_load(port, batch, seconds)
            results, all_streams = asyncio.run(load)
        row = summarize(results, memory.peak)
        row["wall_s"] = time.perf_counter() - started
        row["all_streams"] = all_streams
        row["server_cpu_ms_per_stream"] = (
            1000 * (_cpu_seconds(server_pid) - cpu_before) / max(1, row["all_streams"])
        )
        figures.append(row)
    return figures

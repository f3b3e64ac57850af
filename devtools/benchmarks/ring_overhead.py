"""What the model ring costs over a bare ChatOpenAI client, against the LLM simulator.

Both clients talk to the same simulator with no simulated latency, so the difference is the
ring's own work: breaker checks in Redis, attempt bookkeeping, metrics, LLMCall rows (written
by the background thread) and the extra generator layer around the stream.
"""

import asyncio
import statistics
import time

from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from agents.llm import ModelRing
from agents.llm.clients import POOL_LIMITS
from agents.llm.recorder import recorder
from devtools.llmservers.simulator import spawned_simulator


def _bare_client(base_url: str, model: str) -> ChatOpenAI:
    import httpx

    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key="bench",
        max_retries=0,
        stream_usage=True,
        http_async_client=httpx.AsyncClient(limits=POOL_LIMITS),
    )


async def _per_call(model, calls: int) -> list[float]:
    durations = []
    for n in range(calls):
        started = time.perf_counter()
        await model.ainvoke([HumanMessage(f"call {n}")])
        durations.append(time.perf_counter() - started)
    return durations


async def _tokens_per_second(model, streams: int) -> float:
    pieces, started = 0, time.perf_counter()
    for n in range(streams):
        async for chunk in model.astream([HumanMessage(f"stream {n}")]):
            pieces += bool(chunk.content)
    return pieces / (time.perf_counter() - started)


def run(calls: int = 300, streams: int = 30, stream_tokens: int = 500) -> dict:
    """Interleaved rounds (bare, ring, bare, ring...) so machine noise hits both alike. The
    simulator runs in its own process: "short" answers 8 tokens, "long" `stream_tokens`."""
    from django.test import override_settings

    results = {"bare_call": [], "ring_call": [], "bare_tps": [], "ring_tps": []}
    profile = f"long:0:0:{stream_tokens}"
    with spawned_simulator(
        "--ttft-ms", "0", "--tokens-per-s", "0", "--reply-tokens", "8", "--profile", profile
    ) as base_url:

        async def measure():
            bare_short, bare_long = _bare_client(base_url, "short"), _bare_client(base_url, "long")
            with override_settings(LLM_BASE_URL=base_url, LLM_MODELS="short,long"):
                ring_short = ModelRing()
                await _per_call(bare_short, 20)  # warm both connection pools
                await _per_call(ring_short, 20)
                for _ in range(3):
                    results["bare_call"] += await _per_call(bare_short, calls // 3)
                    results["ring_call"] += await _per_call(ring_short, calls // 3)
            with override_settings(LLM_BASE_URL=base_url, LLM_MODELS="long,short"):
                ring_long = ModelRing()
                for _ in range(3):
                    results["bare_tps"].append(await _tokens_per_second(bare_long, streams // 3))
                    results["ring_tps"].append(await _tokens_per_second(ring_long, streams // 3))

        asyncio.run(measure())
    recorder.flush(30)
    bare_ms = statistics.median(results["bare_call"]) * 1000
    ring_ms = statistics.median(results["ring_call"]) * 1000
    bare_tps = statistics.median(results["bare_tps"])
    ring_tps = statistics.median(results["ring_tps"])
    return {
        "bare_call_ms_p50": bare_ms,
        "ring_call_ms_p50": ring_ms,
        "ring_overhead_ms_per_call": ring_ms - bare_ms,
        "bare_tokens_per_s": bare_tps,
        "ring_tokens_per_s": ring_tps,
        "ring_tokens_per_s_loss_pct": 100 * (1 - ring_tps / bare_tps),
    }

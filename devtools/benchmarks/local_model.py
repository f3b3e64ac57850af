"""Tokens/s of the local model: llama-cpp-python called directly vs through our server over HTTP.

Both sides run the same rendered prompt (the GGUF's chat template), the same sampling
(temperature 0.2, top_p 0.95, seed 0), the same ``n_threads`` and ``n_ctx`` and the same
``max_tokens``, with the end-of-generation tokens banned (a ``logit_bias`` of -inf directly, our
server's ``ignore_eos`` over HTTP) so that every run produces exactly ``tokens`` tokens. They run
one after the other, never together: llama-cpp-python in this process
(``create_completion(stream=True)``) and our server as its own process
(``python -m devtools.llmservers.local``, read by a streaming httpx client here) each hold the
model, and the runs alternate (direct, server, direct, server, ...) so that noise from other work
on the machine hits both sides alike; the idle side uses no CPU meanwhile.

Each side gets one short warm-up request, then ``repeats`` measured runs (the prompt is in the KV
cache for all of them, on both sides). Figures are medians:

* ``*_tokens_per_s``: decoding speed, (tokens - 1) / (time of the last token - time of the first),
  timed where the text arrives (the ``create_completion`` iterator; the HTTP client);
* ``*_e2e_tokens_per_s``: tokens / (time of the last token - time the request was made);
* ``*_ttft_s``: time to the first token;
* ``ratio``: server / direct decoding speed (1.0 = no overhead).

Usage::

    .venv/bin/python -c "from devtools.benchmarks.local_model import run; print(run())"
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devtools.llmservers.local import (
    default_n_threads,
    load_backend,
    local_model_path,
    resolve_spec,
)

PROMPT = (
    "Explain in detail how a hash map works, how collisions are resolved, and how Python's dict "
    "is implemented. Include code examples."
)
TEMPERATURE = 0.2
TOP_P = 0.95
SEED = 0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _rates(started: float, first: float, last: float, tokens: int) -> dict[str, float]:
    return {
        "tokens": tokens,
        "tokens_per_s": (tokens - 1) / (last - first) if last > first else float("nan"),
        "e2e_tokens_per_s": tokens / (last - started),
        "ttft_s": first - started,
    }


def _direct_once(llama: Any, prompt: list[int], tokens: int, bias: dict[int, float]) -> dict:
    started = time.perf_counter()
    first = last = 0.0
    finish = None
    for chunk in llama.create_completion(
        prompt,
        max_tokens=tokens,
        temperature=TEMPERATURE,
        top_p=TOP_P,
        seed=SEED,
        logit_bias=bias,
        stream=True,
    ):
        choice = chunk["choices"][0]
        if choice["text"]:
            last = time.perf_counter()
            first = first or last
        finish = choice.get("finish_reason") or finish
    if finish != "length":
        raise RuntimeError(f"direct run ended with {finish!r} before {tokens} tokens")
    return _rates(started, first, last, tokens)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(path: Path, n_threads: int, n_ctx: int) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "devtools.llmservers.local",
        "--port",
        str(port),
        "--model-path",
        str(path),
        "--model-name",
        "bench",
        "--n-threads",
        str(n_threads),
        "--n-ctx",
        str(n_ctx),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(  # noqa: S603 (our own module)
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the local LLM server did not start")
        time.sleep(0.1)


def _http_once(client: Any, messages: list[dict], tokens: int) -> dict:
    body = {
        "model": "bench",
        "messages": messages,
        "max_tokens": tokens,
        "temperature": TEMPERATURE,
        "top_p": TOP_P,
        "seed": SEED,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = last = 0.0
    usage = None
    with client.stream("POST", "/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
    if not usage or usage["completion_tokens"] != tokens:
        raise RuntimeError(f"server run produced {usage} instead of {tokens} tokens")
    return _rates(started, first, last, tokens)


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def run(
    spec_key: str = "qwen2.5-coder-1.5b",
    tokens: int = 200,
    *,
    repeats: int = 5,
    n_threads: int | None = None,
    n_ctx: int = 2048,
) -> dict:
    """Measure both sides one after the other (see the module docstring); returns the figures."""
    import httpx

    spec = resolve_spec(spec_key)
    path = Path(local_model_path(spec))
    n_threads = n_threads or default_n_threads()
    messages = [{"role": "user", "content": PROMPT}]

    backend = load_backend(path, n_ctx=n_ctx, n_threads=n_threads)
    prompt = backend.tokenize(backend.render(messages, None))
    bias = dict.fromkeys(backend.eog_tokens(), float("-inf"))
    direct: list[dict] = []
    served: list[dict] = []
    process, base_url = _start_server(path, n_threads, n_ctx)
    try:
        with httpx.Client(base_url=base_url, timeout=600) as client:
            _direct_once(backend.llama, prompt, 8, bias)  # warm-ups
            _http_once(client, messages, 8)
            for _ in range(repeats):  # alternate, so that machine noise hits both alike
                direct.append(_direct_once(backend.llama, prompt, tokens, bias))
                served.append(_http_once(client, messages, tokens))
    finally:
        process.terminate()
        process.wait(timeout=30)
        backend.llama.close()

    direct_tps = _median(direct, "tokens_per_s")
    server_tps = _median(served, "tokens_per_s")
    return {
        "spec": spec.key,
        "n_threads": n_threads,
        "n_ctx": n_ctx,
        "max_tokens": tokens,
        "prompt_tokens": len(prompt),
        "repeats": repeats,
        "direct_tokens_per_s": direct_tps,
        "server_tokens_per_s": server_tps,
        "ratio": server_tps / direct_tps,
        "direct_e2e_tokens_per_s": _median(direct, "e2e_tokens_per_s"),
        "server_e2e_tokens_per_s": _median(served, "e2e_tokens_per_s"),
        "direct_ttft_s": _median(direct, "ttft_s"),
        "server_ttft_s": _median(served, "ttft_s"),
        "load_average": os.getloadavg(),
        "direct_runs": direct,
        "server_runs": served,
    }


if __name__ == "__main__":
    spec_arg = sys.argv[1] if len(sys.argv) > 1 else "qwen2.5-coder-1.5b"
    print(json.dumps(run(spec_arg), indent=2))

"""Time to first token of the local model with and without the prompt cache.

A chat-like load on :class:`~devtools.llmservers.local.backend.LlamaBackend` in this process
(no HTTP: the figure is the model's): the agent's real system prompt and tools, the question,
then the turn's context (time and remembered facts, padded to ``prompt_tokens`` tokens in all)
as the agent sends them (:mod:`agents.graph.prompts`). Each of ``repeats``
sessions runs: a first turn, a background request (a title), a second turn (the answer and ~100
new tokens), another background request (memory extraction). Run once with ``cache_slots``
saved states and once with none (only the live KV cache is reused, as before the cache), each
from an empty KV cache. Figures (seconds, medians): ``first_turn_cold`` (session 1: nothing
cached), ``new_session_first_turn`` (sessions 2..: the pinned system prompt), ``later_turn``
(every second turn), and the prompt tokens each evaluated.

Usage::

    .venv/bin/python -c "from devtools.benchmarks.prompt_cache import run; print(run())"
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

from agents.graph.general.prompts import SYSTEM_PROMPT
from agents.graph.general.tools import TOOLS
from agents.graph.prompts import turn_context
from devtools.llmservers.local import GenParams, load_backend, local_model_path, resolve_spec
from devtools.llmservers.local.prompt_cache import DEFAULT_CACHE_SLOTS, PromptCache

NOW = datetime(2026, 12, 1, 10, 41, tzinfo=UTC)
FIRST_QUESTIONS = ["What is 17*23?", "What time is it in Tokyo?", "Suggest a name for a boat."]
SECOND_QUESTION = (
    "Thanks. Now a longer one: I am planning a sailing trip along the coast next summer with "
    "two friends, we have a small boat and about ten days. What should we take with us, how "
    "should we plan each day, and what should we check before we leave the harbour?"
)


def _facts(count: int) -> list[str]:
    return [f"Has a friend number {n} who likes sailing on lake number {n}." for n in range(count)]


def _context(backend: Any, tools: list[dict], prompt_tokens: int) -> str:
    """The turn's context with as many remembered facts as fit a first turn in
    ``prompt_tokens``."""
    count = 0
    while True:
        text = turn_context(NOW, _facts(count + 1))
        if len(backend.tokenize(backend.render(_turn([], "Hi", text), tools))) > prompt_tokens:
            return turn_context(NOW, _facts(count))
        count += 1


def _turn(history: list[dict], question: str, context: str) -> list[dict]:
    """A chat call's messages as the agent's graph orders them."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        *history,
        {"role": "user", "content": question},
        {"role": "system", "content": context},
    ]


def _generate(backend: Any, messages: list[dict], tools: list[dict], background: bool) -> dict:
    tokens = backend.tokenize(backend.render(messages, tools))
    pieces: list[str] = []
    first: list[float] = []

    def emit(piece: str) -> None:
        first.append(first[0] if first else time.perf_counter())
        pieces.append(piece)

    started = time.perf_counter()
    params = GenParams(max_tokens=8, temperature=0.0, background=background)
    result = backend.generate(tokens, params, threading.Event(), emit)
    return {
        "ttft_s": (first[0] if first else time.perf_counter()) - started,
        "prompt_tokens": len(tokens),
        "evaluated": result.prompt_evaluated,
        "text": "".join(pieces),
    }


def _sessions(backend: Any, context: str, tools: list[dict], repeats: int) -> list[dict]:
    backend.llama.reset()
    runs = []
    for n in range(repeats):
        question = FIRST_QUESTIONS[n % len(FIRST_QUESTIONS)]
        first = _generate(backend, _turn([], question, context), tools, background=False)
        title = [
            {"role": "system", "content": "Write a title of at most five words for this chat."},
            {"role": "user", "content": question},
        ]
        _generate(backend, title, [], background=True)
        history = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": first["text"]},
        ]
        second = _generate(backend, _turn(history, SECOND_QUESTION, context), tools, False)
        memory = [
            {"role": "system", "content": "Extract the facts about the user as a JSON list."},
            {"role": "user", "content": f"{question}\n{SECOND_QUESTION}"},
        ]
        _generate(backend, memory, [], background=True)
        runs.append({"first": first, "second": second})
    return runs


def _summary(runs: list[dict]) -> dict[str, Any]:
    later = [r["second"] for r in runs]
    new = [r["first"] for r in runs[1:]]
    return {
        "first_turn_cold_s": round(runs[0]["first"]["ttft_s"], 2),
        "first_turn_cold_evaluated": runs[0]["first"]["evaluated"],
        "new_session_first_turn_s": round(statistics.median(r["ttft_s"] for r in new), 2),
        "new_session_evaluated": [r["evaluated"] for r in new],
        "later_turn_s": round(statistics.median(r["ttft_s"] for r in later), 2),
        "later_turn_evaluated": [r["evaluated"] for r in later],
    }


def run(
    spec: str = "qwen2.5-coder-1.5b",
    *,
    n_threads: int = 2,
    n_ctx: int = 8192,
    prompt_tokens: int = 1100,
    repeats: int = 3,
    cache_slots: int = DEFAULT_CACHE_SLOTS,
) -> dict[str, Any]:
    backend = load_backend(local_model_path(resolve_spec(spec)), n_ctx=n_ctx, n_threads=n_threads)
    tools = [convert_to_openai_tool(t) for t in TOOLS]
    context = _context(backend, tools, prompt_tokens)
    first_prompt = _turn([], "Hi", context)
    figures: dict[str, Any] = {
        "spec": spec,
        "n_threads": n_threads,
        "n_ctx": n_ctx,
        "system_and_tools_tokens": backend.fixed_prefix(
            backend.tokenize(backend.render(first_prompt, tools))
        ),
        "first_prompt_tokens": len(backend.tokenize(backend.render(first_prompt, tools))),
    }
    for label, slots in (("without_cache", 0), ("with_cache", cache_slots)):
        backend.cache = PromptCache(slots)
        figures[label] = _summary(_sessions(backend, context, tools, repeats))
    saved = backend.cache.slots
    figures["with_cache"]["saved_states_mb"] = round(sum(len(s.state) for s in saved) / 1e6, 1)
    return figures

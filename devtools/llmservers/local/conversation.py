"""The conversation as the chat template and the turn need it: OpenAI messages in the shape the
Qwen template reads (markup in their text neutralised), the tool calls that already have a
result, and the prompt that asks for an answer from those results (used by
:mod:`devtools.llmservers.local.turn` for ``auto`` after tool results and on repeated calls).

That prompt states the results plainly in the last user message and asks to answer with them:
left in the template's own ``<tool_response>`` turns, the 1.5B model answered "Thank you for using
the calculator tool." after 17*23 -> 391."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.local.markup import neutralise_markup
from devtools.llmservers.local.toolcalls import ParsedCall
from devtools.llmservers.protocol import JSON

__all__ = [
    "ToolResult",
    "answer_now_messages",
    "results_summary",
    "template_messages",
    "tool_results",
    "turn_results",
]

MAX_RESULT_CHARS = 2000  # of one tool result quoted in the "answer now" prompt


def _arguments_value(arguments: Any) -> Any:
    """Call arguments as an object for the chat template (its ``tojson`` would quote a string)."""
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return arguments
        return value
    return {} if arguments is None else arguments


def template_messages(messages: Iterable[JSON]) -> list[JSON]:
    """OpenAI messages in the shape the Qwen chat template reads: text contents (never None),
    ``developer`` as ``system``, ``function`` as ``tool``, call arguments as objects, markup in
    every text neutralised (:func:`neutralise_markup`: a system prompt quotes memories, an
    assistant message is whatever the client sends)."""
    out: list[JSON] = []
    for msg in messages:
        role = msg.get("role")
        text = neutralise_markup(proto.message_text(msg.get("content")))
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text})
        elif role == "assistant":
            item: JSON = {"role": "assistant", "content": text}
            calls = []
            for call in msg.get("tool_calls") or ():
                fn = (call.get("function") or {}) if isinstance(call, dict) else {}
                calls.append(
                    {
                        "type": "function",
                        "function": {
                            "name": str(fn.get("name") or ""),
                            "arguments": _arguments_value(fn.get("arguments")),
                        },
                    }
                )
            legacy = msg.get("function_call")
            if isinstance(legacy, dict) and not calls:
                calls.append(
                    {
                        "type": "function",
                        "function": {
                            "name": str(legacy.get("name") or ""),
                            "arguments": _arguments_value(legacy.get("arguments")),
                        },
                    }
                )
            if calls:
                item["tool_calls"] = calls
            out.append(item)
        elif role in ("tool", "function"):
            out.append({"role": "tool", "content": text})
        else:
            out.append({"role": "user", "content": text})
    return out


@dataclass(frozen=True)
class ToolResult:
    """A tool call of the conversation that has its result (``index``: of the tool message)."""

    name: str
    arguments: str  # canonical JSON
    content: str
    index: int

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.arguments


def tool_results(messages: list[JSON]) -> dict[tuple[str, str], ToolResult]:
    """Every call of the conversation with a ``tool`` result, by :attr:`ParsedCall.key`."""
    calls: dict[str, tuple[str, str]] = {}
    results: dict[tuple[str, str], ToolResult] = {}
    for index, msg in enumerate(messages):
        if msg.get("role") == "assistant":
            for call in msg.get("tool_calls") or ():
                if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                    continue
                fn = call.get("function") or {}
                calls[call["id"]] = proto.tool_call_key(
                    str(fn.get("name") or ""), fn.get("arguments")
                )
        elif msg.get("role") == "tool":
            key = calls.get(msg.get("tool_call_id"))  # type: ignore[arg-type]
            if key is not None:
                text = proto.message_text(msg.get("content"))
                results[key] = ToolResult(key[0], key[1], text, index)
    return results


def _last_user(messages: list[JSON]) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)


def turn_results(
    messages: list[JSON], results: Mapping[tuple[str, str], ToolResult]
) -> list[ToolResult]:
    """The results of the current turn (after the last user message), in conversation order."""
    last_user = _last_user(messages)
    return sorted((r for r in results.values() if r.index > last_user), key=lambda r: r.index)


def answer_now_messages(
    messages: list[JSON],
    results: Mapping[tuple[str, str], ToolResult],
    repeated: list[ParsedCall],
    *,
    calls_allowed: bool = False,
) -> list[JSON]:
    """Template messages for answering from tool results: the turn's tool exchange (after the
    last user message) and the results of the ``repeated`` calls are folded into the last user
    message, followed by the instruction to answer with them: without calling a tool, or, with
    ``calls_allowed``, calling one only for what they leave unanswered (a two-step question)."""
    msgs = template_messages(messages)
    last_user = _last_user(msgs)
    question = msgs[last_user]["content"] if last_user >= 0 else ""
    head = msgs[:last_user] if last_user >= 0 else msgs
    chosen = {r.key: r for r in turn_results(messages, results)}
    for call in repeated:
        if call.key in results:
            chosen.setdefault(call.key, results[call.key])
    lines = []
    for result in sorted(chosen.values(), key=lambda r: r.index):
        content = neutralise_markup(result.content)
        if len(content) > MAX_RESULT_CHARS:
            content = content[:MAX_RESULT_CHARS] + " [...]"
        lines.append(f"- {result.name}({result.arguments}) returned: {content}")
    then = (
        " If they leave part of the question unanswered, call the tool for that part."
        if calls_allowed
        else " Do not call a tool."
    )
    block = (
        "Tool results:\n"
        + "\n".join(lines)
        + "\n\nAnswer the question with these results: say what they are, in a sentence."
        + then
    )
    return [*head, {"role": "user", "content": f"{question}\n\n{block}" if question else block}]


def results_summary(results: Iterable[ToolResult]) -> str:
    """The results in words, when the model gives no answer of its own."""
    return " ".join(f"{r.name} returned: {r.content}." for r in results)

"""Tool calls in the model's text: what the small Qwen models write, turned into OpenAI calls.

Qwen2.5 writes ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` (maybe several),
but the small quantized models mostly write a bare JSON object instead, or one in a ```json fence
(several objects one per line, too). :func:`parse_tool_output` turns all of these into calls
(lenient: a doubled opening brace -- the 1.5B model writes ``{{"name": ...}`` at times -- is
undone, a bare key quoted, a missing closing brace added, an extra one ignored, an unfinished last
object dropped when complete ones precede it). Only known (offered) tool names count; bare JSON
counts as a call only when it has the shape of one (``name`` + ``arguments``/``parameters``),
otherwise it is plain content. Text written before a call is the message ``content``; text after
the calls is dropped. Identical calls in one answer are merged.

Streaming (:class:`ToolCallStream`): plain text is streamed as it comes, except what may start a
call -- a suffix that is a prefix of ``<tool_call>``, trailing whitespace, or an answer that
begins with ``{`` or a ```json fence -- which is held back until it is clear. Calls are sent once
the generation has ended, as proper ``tool_calls`` deltas (a header chunk with id and name, then
the arguments), with ``finish_reason: "tool_calls"``. The concatenated content chunks always equal
the non-streamed ``content`` for the same generation.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import ToolCall

__all__ = [
    "REQUIRED_PREFILL",
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "ParsedCall",
    "ParsedOutput",
    "ToolCallStream",
    "parse_tool_output",
]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
REQUIRED_PREFILL = TOOL_CALL_OPEN + '\n{"name": "'


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class ParsedCall:
    """One tool call the model wrote; ``arguments`` is the parsed JSON object."""

    name: str
    arguments: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """Name and canonical arguments JSON: equal for calls that mean the same."""
        return proto.tool_call_key(self.name, self.arguments)

    def to_tool_call(self) -> ToolCall:
        return ToolCall(new_call_id(), self.name, proto.dumps(self.arguments))


@dataclass
class ParsedOutput:
    """What a model output means.

    ``calls``: the tool calls found (then ``content`` is the text before them, maybe "").
    ``error``: the output tried to call a tool but could not be understood (then ``content`` is
    the whole text). Otherwise ``content`` is the whole text. ``before`` is the text before the
    call attempt (calls or error), else the whole text.
    """

    content: str
    calls: list[ParsedCall] = field(default_factory=list)
    error: str | None = None
    before: str = ""


_FENCE_RE = re.compile(r"```(?:json|JSON)?")
_FENCED_OBJECT_RE = re.compile(r"```(?:json|JSON)?\s*\{")
_DOUBLE_BRACE_RE = re.compile(r"^\{\s*\{")
_BARE_KEY_RE = re.compile(r"([{,]\s*)([A-Za-z_][\w\-]*)(\s*:)")
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "type", "id", "function"})
_DECODER = json.JSONDecoder()


def _repairs(segment: str) -> Iterator[str]:
    """Candidate fixes of one broken JSON object, mildest first: a doubled opening brace
    (``{{"name": ...}``, as the 1.5B model writes at times), bare keys, missing closing braces."""
    single = _DOUBLE_BRACE_RE.sub("{", segment, count=1)
    quoted = _BARE_KEY_RE.sub(r'\1"\2"\3', single)
    for text in dict.fromkeys((segment, single, quoted)):
        stripped = text.rstrip().rstrip(",")
        missing = stripped.count("{") - stripped.count("}")
        if missing > 0:
            yield stripped + "}" * missing
        if text is not segment:
            yield text


def _decode_objects(text: str) -> tuple[list[Any], str | None]:
    """The JSON values written one after the other in ``text`` (```json fences ignored).

    Returns ``(values, error)``; ``error`` is set when something could not be decoded. An
    unfinished last value is dropped (no error) when complete ones precede it; stray closing
    braces between values are ignored.
    """
    text = _FENCE_RE.sub(" ", text)
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and (text[pos].isspace() or text[pos] == "}"):
            pos += 1
        if pos >= end:
            return values, None
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except ValueError as exc:
            rest = text[pos:]
            for candidate in _repairs(rest):
                try:
                    values.append(json.loads(candidate))
                except ValueError:
                    continue
                return values, None
            if values:
                return values, None  # an unfinished last value (cut by max_tokens)
            return values, f"invalid JSON: {exc}"
        values.append(value)


def _call_shape(value: Any) -> dict[str, Any] | None:
    """``value`` as ``{"name", "arguments"}`` if it looks like a call, else None."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # OpenAI's own shape
        value = {**value["function"]}
    if not isinstance(value.get("name"), str) or not set(value) <= _CALL_KEYS:
        return None
    if "arguments" not in value and "parameters" not in value:
        return None
    return value


def _as_call(value: dict[str, Any], tool_names: Collection[str]) -> ParsedCall | str:
    """A :class:`ParsedCall` from a call-shaped dict, or the reason it is not a valid one."""
    name = value["name"]
    if name not in tool_names:
        return f"unknown tool {name!r}"
    args = value.get("arguments", value.get("parameters"))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return f"the arguments of {name!r} are not JSON"
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return f"the arguments of {name!r} are not a JSON object"
    return ParsedCall(name, args)


def _unique(calls: list[ParsedCall]) -> list[ParsedCall]:
    seen: dict[tuple[str, str], ParsedCall] = {}
    for call in calls:
        seen.setdefault(call.key, call)
    return list(seen.values())


def parse_tool_output(text: str, tool_names: Collection[str]) -> ParsedOutput:
    """Find the tool calls in a model output (module docstring)."""
    start = text.find(TOOL_CALL_OPEN)
    if start >= 0:
        before = text[:start].rstrip()
        calls: list[ParsedCall] = []
        while start >= 0:
            body_start = start + len(TOOL_CALL_OPEN)
            close = text.find(TOOL_CALL_CLOSE, body_start)
            body = text[body_start:] if close < 0 else text[body_start:close]
            values, error = _decode_objects(body)
            if error is None and not values:
                error = "an empty <tool_call> block"
            for value in values:
                shaped = _call_shape(value)
                if shaped is None:
                    error = error or "a <tool_call> block without a name and arguments"
                    break
                call = _as_call(shaped, tool_names)
                if isinstance(call, str):
                    error = error or call
                    break
                calls.append(call)
            if error is not None:
                return ParsedOutput(text, [], error, before)
            if close < 0:
                break
            start = text.find(TOOL_CALL_OPEN, close + len(TOOL_CALL_CLOSE))
        return ParsedOutput(before, _unique(calls), None, before)

    stripped = text.lstrip()
    if not (stripped.startswith("{") or _FENCED_OBJECT_RE.match(stripped)):
        return ParsedOutput(text, before=text)
    values, error = _decode_objects(stripped)
    if error is not None:
        if '"name"' in stripped or "'name'" in stripped:
            return ParsedOutput(text, [], error, "")
        return ParsedOutput(text, before=text)  # some text that starts with "{"
    shaped = [_call_shape(v) for v in values]
    if not values or any(s is None for s in shaped):
        return ParsedOutput(text, before=text)  # JSON, but not calls: an answer
    calls = []
    for value in shaped:
        call = _as_call(value, tool_names)  # type: ignore[arg-type]
        if isinstance(call, str):
            return ParsedOutput(text, [], call, "")
        calls.append(call)
    return ParsedOutput("", _unique(calls), None, "")


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of ``tag``."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


def _opening(rest: str) -> str:
    """How an answer that begins with ``rest`` (left-stripped) goes on: ``"hold"`` (can't tell
    yet), ``"call"`` (a bare JSON / fenced call, held to the end) or ``"text"``."""
    if not rest:
        return "hold"
    if rest[0] == "{":
        return "call"
    if not rest.startswith("```"):
        return "hold" if "```".startswith(rest) else "text"
    lang = re.match(r"[A-Za-z]*", rest[3:]).group()  # type: ignore[union-attr]
    after = rest[3 + len(lang) :]
    if lang and lang.lower() != "json":
        return "hold" if "json".startswith(lang.lower()) and not after else "text"
    body = after.lstrip()
    if not body:
        return "hold"
    return "call" if body[0] == "{" else "text"


class ToolCallStream:
    """Splits a streamed answer into text that can be sent now and text held back.

    ``feed(piece)`` returns the text that is safe to stream; ``finish()`` parses the whole answer
    (:func:`parse_tool_output`) and returns ``(tail, parsed)``: ``tail`` is the content still to
    send (held-back text, or the whole call attempt when it could not be parsed).

    ``emitted`` is text of this answer already sent (a retry continues after it); ``prefill`` is
    text put in the model's mouth (held, as it opens a call).
    """

    def __init__(self, tool_names: Collection[str], *, emitted: str = "", prefill: str = ""):
        self.tool_names = frozenset(tool_names)
        self.text = emitted + prefill
        self.emitted = len(emitted)
        self.mode = "call" if prefill else ("text" if emitted else "start")

    def feed(self, piece: str) -> str:
        self.text += piece
        if self.mode == "start":
            verdict = _opening(self.text.lstrip())
            if verdict == "hold":
                return ""
            self.mode = verdict
        if self.mode == "call":
            return ""
        text = self.text
        found = text.find(TOOL_CALL_OPEN, self.emitted)
        if found >= 0:
            self.mode = "call"
            end = found
        else:
            end = len(text) - _partial_suffix(text, TOOL_CALL_OPEN)
        end = max(self.emitted, len(text[:end].rstrip()))
        out = text[self.emitted : end]
        self.emitted = end
        return out

    def finish(self) -> tuple[str, ParsedOutput]:
        parsed = parse_tool_output(self.text, self.tool_names)
        sent = self.text[: self.emitted]
        if parsed.calls and parsed.content.startswith(sent):
            tail = parsed.content[self.emitted :]
        elif parsed.calls:  # pragma: no cover - sent text is always a prefix of the content
            tail = ""
        else:
            tail = self.text[self.emitted :]
        self.emitted += len(tail)
        return tail, parsed

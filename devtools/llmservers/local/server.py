"""Our OpenAI-compatible server for the embedded local model (llama.cpp through llama-cpp-python).

A plain ASGI application (no framework) served by uvicorn, written like the LLM simulator
(:mod:`devtools.llmservers.simulator.app`) and sharing its wire format (:mod:`devtools.llmservers.protocol`). It
needs no Django: ``python -m devtools.llmservers.local.server --port 8800`` runs it; ``manage.py
serve_local_llm`` is a thin wrapper with the same arguments (:func:`add_arguments`). In tests::

    with running_local_server(local_model_path(TEST_SPEC), model_name="qwen-test") as srv:
        srv.base_url            # "http://127.0.0.1:PORT/v1"

``llama_cpp.server`` is not used: it mangles streamed tool calls and ignores automatic tool choice.

Endpoints
---------
``GET /v1/models`` (one model name), ``POST /v1/chat/completions`` (streaming or not) and
``GET /health`` (:meth:`LocalServer.stats`); the ``/v1`` paths also answer without the prefix. Any
requested model name is accepted; answers carry the configured name.

Generation
----------
The prompt is rendered with the GGUF's own chat template (``tokenizer.chat_template``) through
``llama_cpp.llama_chat_format.Jinja2ChatFormatter`` -- messages (``tool`` results and assistant
``tool_calls`` included) plus ``tools`` -- and tokenized once; ``llama.create_completion(tokens,
stream=True)`` then produces the text, so we decide what it means. Honoured: ``max_tokens`` /
``max_completion_tokens``, ``temperature`` (default 0.2), ``top_p``, ``stop``, ``seed``,
``presence_penalty``, ``frequency_penalty``, ``logit_bias``, ``response_format`` (``json_object`` /
``json_schema``, through a llama.cpp grammar) and vLLM's ``ignore_eos`` extension. ``n`` > 1 and
``logprobs`` are refused (400). Prompt tokens + ``max_tokens`` beyond the context window is a 400
``context_length_exceeded``.

One ``Llama`` instance; every call into it (render + tokenize, generation) runs on one worker
thread, and requests are served one at a time in arrival order (a FIFO ``asyncio.Lock``). Text
pieces reach the event loop through ``loop.call_soon_threadsafe``. A client that goes away sets a
flag that the generation loop checks at every token (a llama ``stopping_criteria``), so it stops
within a token and the next request starts.

llama-cpp-python reuses the longest cached prefix of the previous prompt. Before each generation
every prompt token but the last is put in the KV cache, so that the last one is always evaluated
alone: llama.cpp's batched and single-token kernels differ in the last bits, and without this the
same request at temperature 0 could answer differently cold and warm ("colours" / "colors").

Usage: ``prompt_tokens`` is the length of the tokenized prompt; ``completion_tokens`` counts every
token sampled for the answer (the end-of-turn token included, and the tokens of a retry or a
regeneration, see below).

Tool calls
----------
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

``tool_choice``: ``none`` -> tools are not offered (not rendered, not parsed); ``auto`` -> the
model decides; ``required`` -> the assistant turn is prefilled with ``<tool_call>\\n{"name": "``;
a named function -> ``<tool_call>\\n{"name": "<name>", "arguments": {`` (and generation stops at
``</tool_call>``, as with ``parallel_tool_calls: false``, which keeps the first call only). The
prefills go one step further than ``<tool_call>\\n`` because after that alone both Qwen2.5-Coder
models end their turn at once, and after ``"arguments": `` they write raw text instead of an
object. A call that cannot be parsed is retried once, at temperature 0 and with the call opened
for the model (the ``required`` prefill, after any text already sent); not when that would repeat
the first try exactly (same prefill, already at temperature 0), nor after ``max_tokens`` cut it.
If the retry fails too, the first answer's text is returned as content.

Repeated calls: a parsed call whose name and arguments (compared as parsed JSON) already have a
``tool`` result in the conversation is refused (dropped; the other calls of the answer are
returned). When every call of an answer is such a repeat, the answer is generated again without
tools, from a prompt where the tool results of the current turn are folded into the last user
message with the instruction to answer now without calling a tool (:func:`answer_now_messages`;
the plainer "append a system message" variant makes both models echo the question, and keeping
the tools in the prompt makes the 0.5B model call again). That prompt shares no cached prefix, so
this path costs a full prompt evaluation. A repeated call is never returned: if the model still
writes a call, it is dropped, and when nothing else is left the content lists the tool results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.local.weights import (
    DEFAULT_SPEC,
    QWEN25_CODER_0_5B,
    QWEN25_CODER_1_5B,
    SPECS,
    ModelSpec,
    load_llama,
    local_model_path,
)
from devtools.llmservers.protocol import (
    JSON,
    ChatRequest,
    ChunkEncoder,
    OpenAIError,
    Receive,
    Scope,
    Send,
    ToolCall,
    Usage,
)
from devtools.llmservers.serving import ThreadedServer, uvicorn_server

if TYPE_CHECKING:  # pragma: no cover
    import llama_cpp

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_N_CTX",
    "DEFAULT_TEMPERATURE",
    "REQUIRED_PREFILL",
    "SPEC_ALIASES",
    "GenParams",
    "GenResult",
    "LlamaBackend",
    "LocalServer",
    "LocalServerConfig",
    "LocalServerHandle",
    "ParsedCall",
    "ParsedOutput",
    "ToolCallStream",
    "ToolResult",
    "add_arguments",
    "answer_now_messages",
    "build_parser",
    "default_n_threads",
    "gen_params",
    "load_backend",
    "main",
    "model_name_for",
    "parse_tool_output",
    "resolve_spec",
    "run_from_options",
    "running_local_server",
    "serve",
    "template_messages",
    "tool_results",
]

DEFAULT_MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.95
DEFAULT_N_CTX = 8192
SYSTEM_FINGERPRINT = "fp_local_llama"
TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
REQUIRED_PREFILL = TOOL_CALL_OPEN + '\n{"name": "'
MAX_RESULT_CHARS = 2000  # of one tool result quoted in the "answer now" prompt

# Short names for the pinned specs (``--spec``, the benchmark), besides their full keys.
SPEC_ALIASES: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": QWEN25_CODER_1_5B,
    "qwen2.5-coder-0.5b": QWEN25_CODER_0_5B,
    **SPECS,
}
_MODEL_NAMES = {
    QWEN25_CODER_1_5B.key: "qwen2.5-coder-1.5b-instruct",
    QWEN25_CODER_0_5B.key: "qwen2.5-coder-0.5b-instruct",
}


def resolve_spec(key: str | ModelSpec) -> ModelSpec:
    """A :class:`ModelSpec` from a short alias (``qwen2.5-coder-1.5b``) or a full spec key."""
    if isinstance(key, ModelSpec):
        return key
    try:
        return SPEC_ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown model spec {key!r}; one of {sorted(SPEC_ALIASES)}") from None


def model_name_for(spec: ModelSpec) -> str:
    """The served model name of a pinned spec (``qwen2.5-coder-1.5b-instruct`` ...)."""
    return _MODEL_NAMES.get(spec.key, DEFAULT_MODEL_NAME)


def default_n_threads() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


# ------------------------------------------------------------------------------ tool parsing


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
    """Find the tool calls in a model output (see the module docstring, "Tool calls")."""
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


# ------------------------------------------------------------------------- conversation


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
    ``developer`` as ``system``, ``function`` as ``tool``, call arguments as objects."""
    out: list[JSON] = []
    for msg in messages:
        role = msg.get("role")
        text = proto.message_text(msg.get("content"))
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


def answer_now_messages(
    messages: list[JSON], results: Mapping[tuple[str, str], ToolResult], repeated: list[ParsedCall]
) -> list[JSON]:
    """Template messages for answering without tools: the turn's tool exchange (after the last
    user message) and the results of the ``repeated`` calls are folded into the last user
    message, followed by the instruction to answer now without calling a tool."""
    msgs = template_messages(messages)
    last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=-1)
    question = msgs[last_user]["content"] if last_user >= 0 else ""
    head = msgs[:last_user] if last_user >= 0 else msgs
    chosen = {k: r for k, r in results.items() if r.index > last_user}
    for call in repeated:
        if call.key in results:
            chosen.setdefault(call.key, results[call.key])
    lines = []
    for result in sorted(chosen.values(), key=lambda r: r.index):
        content = result.content
        if len(content) > MAX_RESULT_CHARS:
            content = content[:MAX_RESULT_CHARS] + " [...]"
        lines.append(f"- {result.name}({result.arguments}) returned: {content}")
    block = (
        "You already have these tool results:\n"
        + "\n".join(lines)
        + "\n\nAnswer the question using these results, without calling any tool."
    )
    return [*head, {"role": "user", "content": f"{question}\n\n{block}" if question else block}]


def _results_summary(results: Iterable[ToolResult]) -> str:
    lines = [f"- {r.name}({r.arguments}): {r.content}" for r in results]
    return "The tools returned:\n" + "\n".join(lines)


# ---------------------------------------------------------------------------------- backend


@dataclass
class GenParams:
    """Sampling parameters of one generation."""

    max_tokens: int | None = None
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] | None = None
    ignore_eos: bool = False
    response_format: JSON | None = None


@dataclass
class GenResult:
    finish_reason: str  # "stop" | "length"
    completion_tokens: int
    cancelled: bool = False


class LlamaBackend:
    """The llama.cpp side: prompt rendering, tokenizing and generation. Not thread-safe: the
    server calls it from its one worker thread only."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = llama
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the GGUF file has no tokenizer.chat_template")
        eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "replace")
        bos_id = llama.token_bos()
        bos = llama.detokenize([bos_id], special=True).decode("utf-8", "replace")
        self.formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
        self._eog: list[int] | None = None

    @property
    def n_ctx(self) -> int:
        return self.llama.n_ctx()

    def render(self, messages: list[JSON], tools: list[JSON] | None) -> str:
        """The prompt text, ending with the opened assistant turn."""
        return self.formatter(messages=messages, tools=tools or None).prompt

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def eog_tokens(self) -> list[int]:
        """Every end-of-generation token of the vocabulary (for ``ignore_eos``)."""
        if self._eog is None:
            import llama_cpp

            try:
                vocab = self.llama._model.vocab
                n_vocab = self.llama.n_vocab()
                self._eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
            except AttributeError:  # pragma: no cover - other llama-cpp-python versions
                self._eog = [self.llama.token_eos()]
        return self._eog

    def _grammar(self, response_format: JSON | None) -> Any:
        if not response_format or response_format.get("type") not in ("json_object", "json_schema"):
            return None
        from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

        if response_format["type"] == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            if isinstance(schema, dict):
                return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)

    def _prime(self, tokens: list[int], cancel: threading.Event) -> bool:
        """Have every prompt token but the last in the KV cache (reusing the cached prefix), so
        that llama then evaluates the last one alone. The first sampled token then comes from
        the same computation whether the prompt was cached or not: llama.cpp's batched and
        single-token kernels differ in the last bits, which flips near-ties at temperature 0
        (the same request would otherwise answer "colours" cold and "colors" warm).

        Evaluated one batch at a time (the batches llama's own eval would make), so that a
        long prompt can be stopped between batches: False when ``cancel`` was set."""
        llama = self.llama
        head = tokens[:-1]
        if not head:
            return True
        cached = llama.longest_token_prefix(llama._input_ids.tolist(), head)
        if cached < len(head):
            llama.n_tokens = cached  # eval() drops the cache after n_tokens first
            for start in range(cached, len(head), llama.n_batch):
                if cancel.is_set():
                    return False
                llama.eval(head[start : start + llama.n_batch])
        return True

    def generate(
        self,
        tokens: list[int],
        params: GenParams,
        cancel: threading.Event,
        emit: Callable[[str], None],
    ) -> GenResult:
        """Generate after ``tokens``, calling ``emit(piece)`` per text piece; stops early when
        ``cancel`` is set (checked at every token)."""
        from llama_cpp import StoppingCriteriaList

        if not self._prime(tokens, cancel):
            return GenResult("stop", 0, True)
        prompt_len = len(tokens)
        sampled = 0

        def stop_when_cancelled(input_ids: Any, logits: Any) -> bool:
            nonlocal sampled  # input_ids holds the prompt and the tokens before this one
            sampled = max(sampled, len(input_ids) - prompt_len + 1)
            return cancel.is_set()

        bias = dict(params.logit_bias or {})
        if params.ignore_eos:
            bias.update(dict.fromkeys(self.eog_tokens(), float("-inf")))
        chunks = self.llama.create_completion(
            tokens,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=params.stop or None,
            seed=params.seed,
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty,
            logit_bias=bias or None,
            grammar=self._grammar(params.response_format),
            stopping_criteria=StoppingCriteriaList([stop_when_cancelled]),
            stream=True,
        )
        finish = "length"
        try:
            for chunk in chunks:  # type: ignore[union-attr]
                if cancel.is_set():
                    break
                choice = chunk["choices"][0]
                if choice["text"]:
                    emit(choice["text"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            chunks.close()  # type: ignore[union-attr]
        return GenResult(finish, sampled, cancel.is_set())


# --------------------------------------------------------------------------- request parsing


def _number(data: JSON, name: str, default: float, low: float, high: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise proto.invalid_request(f"'{name}' must be a number from {low} to {high}.", name)
    return float(value)


def gen_params(req: ChatRequest, default_temperature: float = DEFAULT_TEMPERATURE) -> GenParams:
    """Sampling parameters of a chat request; raises :class:`OpenAIError` (400)."""
    data = req.raw
    if req.n != 1:
        raise proto.invalid_request("Only n=1 is supported.", "n")
    if data.get("logprobs") or data.get("top_logprobs"):
        raise proto.invalid_request("'logprobs' is not supported.", "logprobs")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise proto.invalid_request("'seed' must be an integer.", "seed")
    bias = data.get("logit_bias")
    logit_bias = None
    if bias is not None:
        try:
            logit_bias = {int(k): float(v) for k, v in bias.items()}
        except (AttributeError, TypeError, ValueError):
            raise proto.invalid_request(
                "'logit_bias' maps token ids to numbers.", "logit_bias"
            ) from None
    ignore_eos = data.get("ignore_eos", False)
    if not isinstance(ignore_eos, bool):
        raise proto.invalid_request("'ignore_eos' must be a boolean.", "ignore_eos")
    response_format = req.response_format
    if response_format is not None and response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise proto.invalid_request(
            "'response_format.type' must be text, json_object or json_schema.", "response_format"
        )
    return GenParams(
        max_tokens=req.max_tokens,
        temperature=_number(data, "temperature", default_temperature, 0.0, 2.0),
        top_p=_number(data, "top_p", DEFAULT_TOP_P, 0.0, 1.0),
        stop=list(req.stop),
        seed=seed,
        presence_penalty=_number(data, "presence_penalty", 0.0, -2.0, 2.0),
        frequency_penalty=_number(data, "frequency_penalty", 0.0, -2.0, 2.0),
        logit_bias=logit_bias,
        ignore_eos=ignore_eos,
        response_format=response_format,
    )


# ------------------------------------------------------------------------------------- turn


@dataclass
class TurnResult:
    content: str
    calls: list[ToolCall]
    finish_reason: str
    usage: Usage
    cancelled: bool = False


class _Turn:
    """One chat request: prompt, generation(s), tool-call handling (module docstring)."""

    def __init__(self, server: LocalServer, req: ChatRequest, params: GenParams, cancel):
        self.server = server
        self.req = req
        self.params = params
        self.cancel: threading.Event = cancel
        self.messages = template_messages(req.messages)
        self.tools = req.tools if req.tool_choice != "none" else []
        if req.tool_choice == "named":
            self.names: frozenset[str] = frozenset({req.tool_choice_name or ""})
            name = json.dumps(req.tool_choice_name)
            self.prefill = f'{TOOL_CALL_OPEN}\n{{"name": {name}, "arguments": {{'
        else:
            self.names = frozenset(t["function"]["name"] for t in self.tools)
            self.prefill = REQUIRED_PREFILL if req.tool_choice == "required" else ""
        self.all_names = frozenset(t["function"]["name"] for t in req.tools)
        self.stop = list(params.stop)
        if self.tools and (req.tool_choice == "named" or not req.parallel_tool_calls):
            self.stop.append(TOOL_CALL_CLOSE)
        self.base = ""
        self._first_tokens = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.committed = ""

    async def prepare(self) -> None:
        """Render and tokenize the prompt; 400 when it does not fit the context window."""
        from jinja2 import TemplateError

        try:
            self.base, tokens = await self.server.in_worker(self._render, self.messages, self.tools)
        except (ValueError, TypeError, TemplateError) as exc:  # the template refused them
            raise proto.invalid_request(f"The messages cannot be rendered: {exc}") from None
        self.prompt_tokens = len(tokens)
        self._first_tokens: list[int] | None = tokens
        n_ctx = self.server.backend.n_ctx
        if self.prompt_tokens + (self.params.max_tokens or 1) > n_ctx:
            raise proto.context_length_exceeded(self.prompt_tokens, n_ctx)

    def _render(self, messages: list[JSON], tools: list[JSON]) -> tuple[str, list[int]]:
        backend = self.server.backend
        base = backend.render(messages, tools)
        return base, backend.tokenize(base + self.prefill)

    async def _pass(
        self,
        text: str | None,
        *,
        temperature: float,
        stream: ToolCallStream | None,
        on_text: Callable[[str], Any],
        tools_prompt: tuple[list[JSON], list[JSON]] | None = None,
    ) -> GenResult:
        """One generation after prompt ``text`` (or the rendered ``tools_prompt`` + committed
        text); text pieces go through ``stream`` (when tools are parsed) to ``on_text``."""
        backend = self.server.backend

        def tokens_of() -> list[int]:
            prompt = text
            if tools_prompt is not None:
                prompt = backend.render(*tools_prompt) + self.committed
            return backend.tokenize(prompt or "")

        tokens = self._first_tokens
        self._first_tokens = None  # the first pass's prompt is the one tokenized in prepare()
        if tokens is None or text != self.base + self.prefill or tools_prompt is not None:
            tokens = await self.server.in_worker(tokens_of)
        room = backend.n_ctx - len(tokens)
        if room <= 0:
            return GenResult("length", 0)
        max_tokens = min(self.params.max_tokens or room, room)
        params = GenParams(
            **{**self.params.__dict__, "max_tokens": max_tokens, "temperature": temperature}
        )
        params.stop = list(self.stop)

        async def sink(piece: str) -> None:
            out = stream.feed(piece) if stream is not None else piece
            if out:
                self.committed += out
                await on_text(out)

        result = await self.server.generate(tokens, params, self.cancel, sink)
        self.completion_tokens += result.completion_tokens
        return result

    async def _emit(self, tail: str, on_text: Callable[[str], Any]) -> None:
        if tail and not self.cancel.is_set():
            self.committed += tail
            await on_text(tail)

    def _result(self, finish: str, calls: list[ToolCall] | None = None) -> TurnResult:
        usage = Usage(self.prompt_tokens, self.completion_tokens)
        return TurnResult(
            self.committed, calls or [], finish, usage, cancelled=self.cancel.is_set()
        )

    async def run(self, on_text: Callable[[str], Any]) -> TurnResult:
        if not self.names:
            gen = await self._pass(
                self.base, temperature=self.params.temperature, stream=None, on_text=on_text
            )
            return self._result(gen.finish_reason)

        temperature, prefill = self.params.temperature, self.prefill
        first_tail: str | None = None  # the first unparsable answer, returned if the retry fails
        while True:
            stream = ToolCallStream(self.names, emitted=self.committed, prefill=prefill)
            gen = await self._pass(
                self.base + self.committed + prefill,
                temperature=temperature,
                stream=stream,
                on_text=on_text,
            )
            tail, parsed = stream.finish()
            if gen.cancelled:
                return self._result(gen.finish_reason)
            if parsed.calls or parsed.error is None:
                break
            # Retry once at temperature 0 with the call opened for the model (the same text
            # again would be pointless: not when nothing changes, nor after a cut by max_tokens).
            retry_prefill = prefill or ("\n" if self.committed else "") + REQUIRED_PREFILL
            retry = temperature > 0 or retry_prefill != prefill
            if first_tail is None and gen.finish_reason != "length" and retry:
                logger.info("local LLM: unparsable tool call (%s); retrying", parsed.error)
                self.server.count("retries")
                temperature, prefill, first_tail = 0.0, retry_prefill, tail
                continue
            logger.info("local LLM: unparsable tool call (%s); returned as text", parsed.error)
            await self._emit(tail if first_tail is None else first_tail, on_text)
            return self._result(gen.finish_reason)

        await self._emit(tail, on_text)
        if not parsed.calls:
            return self._result(gen.finish_reason)
        calls = parsed.calls
        if self.req.tool_choice == "named" or not self.req.parallel_tool_calls:
            calls = calls[:1]
        known = tool_results(self.req.messages)
        fresh = [c for c in calls if c.key not in known]
        if fresh:
            return self._result("tool_calls", [c.to_tool_call() for c in fresh])
        return await self._answer_now(calls, known, on_text)

    async def _answer_now(
        self,
        repeated: list[ParsedCall],
        known: dict[tuple[str, str], ToolResult],
        on_text: Callable[[str], Any],
    ) -> TurnResult:
        """Every call was a repeat: generate again without tools (module docstring)."""
        logger.info(
            "local LLM: refused repeated tool call(s) %s; answering without tools",
            [c.key for c in repeated],
        )
        self.server.count("repeated_calls_refused")
        messages = answer_now_messages(self.req.messages, known, repeated)
        stream = ToolCallStream(self.all_names, emitted=self.committed)
        self.stop = list(self.params.stop)
        gen = await self._pass(
            None,
            temperature=self.params.temperature,
            stream=stream,
            on_text=on_text,
            tools_prompt=(messages, []),
        )
        tail, parsed = stream.finish()
        if parsed.calls or parsed.error is not None:  # never a call here: keep the text before
            before = parsed.before
            tail = before[len(self.committed) :] if before.startswith(self.committed) else ""
        await self._emit(tail, on_text)
        if not self.committed.strip() and not gen.cancelled:
            await self._emit(_results_summary(known[c.key] for c in repeated), on_text)
        return self._result(gen.finish_reason)


# ------------------------------------------------------------------------------------ server


@dataclass
class LocalServerConfig:
    model_name: str = DEFAULT_MODEL_NAME
    default_temperature: float = DEFAULT_TEMPERATURE
    max_body_bytes: int = proto.DEFAULT_MAX_BODY


class LocalServer:
    """The ASGI application around one :class:`LlamaBackend` (an instance is the app)."""

    def __init__(self, backend: Any, config: LocalServerConfig | None = None) -> None:
        self.backend = backend
        self.config = config or LocalServerConfig()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active: set[threading.Event] = set()
        self._stats_lock = threading.Lock()
        self._stats: dict[str, int] = dict.fromkeys(
            (
                "requests",
                "completed",
                "disconnected",
                "errors",
                "prompt_tokens",
                "completion_tokens",
                "retries",
                "repeated_calls_refused",
                "preempted",
            ),
            0,
        )
        self.busy = False
        self.waiting = 0
        # A streamed request is someone waiting for words; a plain one is background work
        # (titles, memory, judges). Streamed requests go first and stop a running plain one.
        self.streams_waiting = 0
        self._running_background: threading.Event | None = None
        self._preempted: set[threading.Event] = set()
        self._inflight: asyncio.Future[Any] | None = None
        self._routes = {
            "/v1/chat/completions": {"POST": self._chat},
            "/v1/models": {"GET": self._models},
            "/health": {"GET": self._health},
        }
        for path in ("/v1/chat/completions", "/v1/models"):
            self._routes[path[3:]] = self._routes[path]

    # ------------------------------------------------------------------------ state

    def count(self, name: str, amount: int = 1) -> None:
        with self._stats_lock:
            self._stats[name] = self._stats.get(name, 0) + amount

    def stats(self) -> JSON:
        """Counters since start, plus ``busy`` (a generation holds the model) and ``waiting``."""
        with self._stats_lock:
            return {
                **self._stats,
                "busy": self.busy,
                "waiting": self.waiting,
                "model": self.config.model_name,
            }

    def begin_shutdown(self) -> None:
        """Stop the running generation and the waiting ones (any thread)."""
        with self._stats_lock:
            active = list(self._active)
        for cancel in active:
            cancel.set()

    def close(self) -> None:
        self.begin_shutdown()
        self._executor.shutdown(wait=True)

    def _model_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock

    def _submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._inflight = future
        return future

    async def in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the model's worker thread."""
        return await self._submit(fn, *args)

    async def generate(
        self,
        tokens: list[int],
        params: GenParams,
        cancel: threading.Event,
        on_piece: Callable[[str], Any],
    ) -> GenResult:
        """Run one generation on the worker thread, awaiting ``on_piece`` for each text piece
        in order. Returns once the worker is done with the model."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def emit(piece: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        future = self._submit(self.backend.generate, tokens, params, cancel, emit)
        future.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (piece := await queue.get()) is not None:
                if not cancel.is_set():
                    await on_piece(piece)
        except BaseException:
            cancel.set()
            raise
        finally:
            if not future.done():  # only when cancelled: the model is freed when it stops
                cancel.set()
        return await future

    # ------------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.begin_shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") or "/"
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            methods = self._routes.get(path)
            if methods is None:
                raise proto.not_found(path)
            handler = methods.get(scope["method"])
            if handler is None:
                raise proto.method_not_allowed(scope["method"], path)
            await handler(scope, receive, tracked_send)
        except OpenAIError as exc:
            self.count("errors")
            if not started:
                await proto.send_error(send, exc)
        except (ConnectionAbortedError, OSError):
            self.count("disconnected")
        except Exception:
            self.count("errors")
            logger.exception("local LLM server: unexpected error on %s %s", scope["method"], path)
            if not started:
                await proto.send_error(send, proto.server_error(code="local_llm_error"))
            else:
                error = proto.server_error(code="local_llm_error").to_dict()
                with contextlib.suppress(Exception):
                    await proto.send_body(send, proto.sse_data(error), more=False)

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = proto.models_response([self.config.model_name], owned_by="local")
        await proto.send_json(send, 200, body)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await proto.send_json(send, 200, {"status": "ok", **self.stats()})

    async def _take_model(self, lock: asyncio.Lock, watcher, *, streamed: bool) -> bool:
        """`_acquire`, with streamed requests first: one arriving stops a running plain request
        (it gets a 503 with Retry-After), and a plain request yields while any stream waits."""
        if not streamed:
            while await self._acquire(lock, watcher):
                if not self.streams_waiting:
                    return True
                lock.release()
                await asyncio.sleep(0)  # to the back of the queue, behind the streams
            return False
        self.streams_waiting += 1
        try:
            running = self._running_background
            if running is not None and not running.is_set():
                self._preempted.add(running)
                running.set()
            return await self._acquire(lock, watcher)
        finally:
            self.streams_waiting -= 1

    async def _acquire(self, lock: asyncio.Lock, watcher: asyncio.Future[None]) -> bool:
        """Wait for the model (FIFO); False when the client leaves first."""
        self.waiting += 1
        acquire = asyncio.ensure_future(lock.acquire())
        try:
            await asyncio.wait((acquire, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting -= 1
            if not acquire.done():
                acquire.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acquire
        if acquire.cancelled():
            return False
        if watcher.done():
            lock.release()
            return False
        return True

    def _release(self, lock: asyncio.Lock) -> None:
        """Free the model for the next request -- once the worker thread is done with it (a
        cancelled request may leave it finishing its current token)."""

        def unlock(_: Any = None) -> None:
            self.busy = False
            lock.release()

        inflight = self._inflight
        if inflight is not None and not inflight.done():
            inflight.add_done_callback(unlock)
        else:
            unlock()

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.count("requests")
        body = await proto.read_body(receive, self.config.max_body_bytes)
        req = proto.parse_chat_request(body)
        params = gen_params(req, self.config.default_temperature)
        cancel = threading.Event()
        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        watcher.add_done_callback(lambda w: w.cancelled() or cancel.set())
        lock = self._model_lock()
        with self._stats_lock:
            self._active.add(cancel)
        try:
            if not await self._take_model(lock, watcher, streamed=req.stream):
                self.count("disconnected")
                return
            try:
                self.busy = True
                if not req.stream:
                    self._running_background = cancel
                turn = _Turn(self, req, params, cancel)
                await turn.prepare()
                if req.stream:
                    result = await self._stream(send, req, turn)
                else:
                    result = await self._complete(send, req, turn)
            finally:
                self._running_background = None
                self._release(lock)
            if cancel in self._preempted:
                self._preempted.discard(cancel)
                self.count("preempted")
                raise proto.OpenAIError(
                    503,
                    "The local model stopped this request to answer a chat; retry shortly.",
                    type="server_error",
                    code="preempted",
                    headers=[("Retry-After", "5")],
                )
            self.count("prompt_tokens", result.usage.prompt_tokens)
            self.count("completion_tokens", result.usage.completion_tokens)
            self.count("disconnected" if result.cancelled else "completed")
        finally:
            with self._stats_lock:
                self._active.discard(cancel)
            watcher.cancel()

    async def _complete(self, send: Send, req: ChatRequest, turn: _Turn) -> TurnResult:
        async def collect(piece: str) -> None:
            return None

        result = await turn.run(collect)
        if result.cancelled:
            return result
        body = proto.chat_completion(
            model=self.config.model_name,
            content=result.content if result.content or not result.calls else None,
            tool_calls=result.calls,
            finish_reason=result.finish_reason,
            usage=result.usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        await proto.send_json(send, 200, body)
        return result

    async def _stream(self, send: Send, req: ChatRequest, turn: _Turn) -> TurnResult:
        enc = ChunkEncoder(
            self.config.model_name,
            include_usage=req.include_usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        await proto.start_sse(send)
        forced = req.tool_choice in ("required", "named")
        await proto.send_body(send, enc.role(None if forced else ""))

        async def forward(piece: str) -> None:
            await proto.send_body(send, enc.content(piece))

        result = await turn.run(forward)
        if result.cancelled:
            return result
        out = []
        for index, call in enumerate(result.calls):
            out.append(enc.tool_call_start(index, call.id, call.name))
            out.append(enc.tool_call_arguments(index, call.arguments))
        out.append(enc.finish(result.finish_reason))
        if req.include_usage:
            out.append(enc.usage(result.usage))
        out.append(proto.SSE_DONE)
        await proto.send_body(send, b"".join(out), more=False)
        return result


# ------------------------------------------------------------------------------- serving


def load_backend(
    model_path: str | os.PathLike[str], *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None
) -> LlamaBackend:
    """Load the GGUF file into llama.cpp (``n_threads`` default: every core)."""
    llama = load_llama(model_path, n_ctx=n_ctx, n_threads=n_threads or default_n_threads())
    return LlamaBackend(llama)


class LocalServerHandle(ThreadedServer):
    """A local model server running in a background thread (see :func:`running_local_server`)."""

    def __init__(self, app: LocalServer) -> None:
        super().__init__(app, name="local-llm", join_timeout=30)
        self.model_name = app.config.model_name

    def stats(self) -> JSON:
        return self.app.stats()


@contextlib.contextmanager
def running_local_server(
    model_path: str | os.PathLike[str] | None = None,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    default_temperature: float = DEFAULT_TEMPERATURE,
    backend: Any = None,
) -> Iterator[LocalServerHandle]:
    """Load the model and serve it on 127.0.0.1 and a free port in a daemon thread for the
    ``with`` block; yields a :class:`LocalServerHandle` (``base_url``). ``model_path`` default:
    :func:`local_model_path` of the default spec (or ``$LOCAL_LLM_PATH``). ``backend`` replaces
    the llama backend (tests of the HTTP side with a scripted model)."""
    if backend is None:
        path = model_path if model_path is not None else local_model_path(DEFAULT_SPEC)
        backend = load_backend(path, n_ctx=n_ctx, n_threads=n_threads)
    app = LocalServer(backend, LocalServerConfig(model_name, default_temperature))
    handle = LocalServerHandle(app)
    try:
        handle.start()
        yield handle
    finally:
        handle.stop()
        app.close()


def serve(
    model_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8800,
    model_name: str = DEFAULT_MODEL_NAME,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    default_temperature: float = DEFAULT_TEMPERATURE,
    log_level: str = "info",
) -> None:
    """Load the model, then serve in the foreground until SIGINT/SIGTERM."""
    backend = load_backend(model_path, n_ctx=n_ctx, n_threads=n_threads)
    app = LocalServer(backend, LocalServerConfig(model_name, default_temperature))
    try:
        uvicorn_server(app, host=host, port=port, log_level=log_level).run()
    finally:
        app.close()


# ----------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's command-line arguments (shared by ``-m`` and ``manage.py``)."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8800, help="default 8800")
    parser.add_argument(
        "--model-path",
        default=None,
        help="a GGUF file (default: $LOCAL_LLM_PATH, else the --spec weights, assembled once)",
    )
    parser.add_argument(
        "--spec",
        default="qwen2.5-coder-1.5b",
        choices=sorted(SPEC_ALIASES),
        help="pinned weights to serve when no --model-path (default qwen2.5-coder-1.5b)",
    )
    parser.add_argument(
        "--model-name", default=None, help="served model name (default: from --spec)"
    )
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context window")
    parser.add_argument(
        "--n-threads", type=int, default=None, help="llama.cpp threads (default: every core)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        help="temperature when a request gives none",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def run_from_options(options: Mapping[str, Any]) -> None:
    """Serve with parsed :func:`add_arguments` options (a dict or ``vars(namespace)``)."""
    spec = resolve_spec(options.get("spec") or "qwen2.5-coder-1.5b")
    path = options.get("model_path") or local_model_path(spec)
    serve(
        Path(path),
        host=options["host"],
        port=options["port"],
        model_name=options.get("model_name") or model_name_for(spec),
        n_ctx=options["n_ctx"],
        n_threads=options.get("n_threads"),
        default_temperature=options["temperature"],
        log_level=options["log_level"],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.llmservers.local.server",
        description="OpenAI-compatible server for the embedded local model (llama.cpp).",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_from_options(vars(build_parser().parse_args(argv)))


if __name__ == "__main__":
    main()

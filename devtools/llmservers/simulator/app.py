"""The LLM simulator: an OpenAI-compatible HTTP server of ours for tests and load tests.

A plain ASGI application (no framework) served by uvicorn. It needs no Django:
``python -m devtools.llmservers.simulator.app --port 8800`` runs it; ``manage.py llm_simulator`` is a thin
wrapper with the same arguments (:func:`add_arguments`). In tests::

    with running_simulator(SimulatorConfig(reply_tokens=5)) as sim:
        sim.base_url            # "http://127.0.0.1:PORT/v1"
        sim.set_faults("gpt-4o", {"kind": "status_429", "retry_after": 2, "fail_times": 1})

Endpoints
---------
``POST /v1/chat/completions`` (streaming or not), ``POST /v1/embeddings``, ``GET /v1/models``
(the paths also answer without the ``/v1`` prefix), and the admin endpoints
``GET/PUT/DELETE /_sim/faults``, ``GET/PUT /_sim/rules``, ``GET /_sim/stats``, ``POST /_sim/reset``.
When ``api_key`` is set every endpoint needs ``Authorization: Bearer <api_key>`` (``"*"`` accepts
any bearer token); otherwise 401 ``invalid_api_key``. When ``models`` is set, other model names get
404 ``model_not_found``; otherwise any model name is accepted.

Replies (deterministic; the first that applies wins)
----------------------------------------------------
1. Scripted rules (``config.rules``: a list, ``{"rules": [...]}`` or a JSON file path), each
   ``{"match": REGEX, "reply": TEXT}`` or
   ``{"match": REGEX, "tool_calls": [{"name": ..., "arguments": {...}}]}``, with an optional
   ``"model"`` (exact name). ``match`` is searched (case-insensitive) in the last user message;
   an optional ``"system": REGEX`` must also be found in the system/developer prompt.
   A tool-call rule applies only to offered tools allowed by ``tool_choice``, and drops calls
   whose result (same name and arguments) is already in the conversation; if nothing is left the
   next rule is tried.
2. Judge: a system/developer prompt containing the words "JSON" and "score" gets
   ``{"score": 1.0, "passed": true, "reason": "simulated"}`` (:data:`JUDGE_REPLY`).
3. Tool intents in the last user message, when the tool is offered and ``tool_choice`` is not
   ``"none"``: arithmetic ("what is 2+3*4", "calculate 7 times 6") -> ``calculator``
   ``{"expression": "2+3*4"}``; "time"/"date"/"today" -> ``current_time`` ``{"timezone": "UTC"}``
   (or each IANA zone, city or abbreviation named, e.g. "in Tokyo" -> ``"Asia/Tokyo"``). Several
   asks give several tool calls in one response (in text order; only the first when
   ``parallel_tool_calls`` is false). A call whose result is already in the conversation is never
   made again. ``tool_choice`` "required"/named without an intent calls the (first) tool with
   arguments made from its JSON schema.
4. Tool results after the last user message (or known results of the asked calls) -> a final
   answer quoting them: ``"The result is <content>."`` or
   ``"The results are <c1>, <c2> and <c3>."``
5. Echo: :func:`echo_reply` -- ``"You said: <text>."`` (whitespace collapsed; the final "." is
   added only when the text does not end in . ! or ?) padded with filler words (lorem ipsum ...)
   or cut so that it has exactly ``reply_tokens`` token pieces.

``stop`` sequences cut the text; ``max_tokens``/``max_completion_tokens`` keep the first N pieces
(finish_reason ``"length"``).

Tokens
------
A reply is split into word-ish pieces, each a token, spaces attached (:func:`split_pieces`):
``"Hi there."`` -> ``["Hi", " there."]``; joining the pieces gives the exact reply. A tool call
counts 1 piece for its name plus the pieces of its JSON arguments. ``completion_tokens`` is the
number of pieces, which is also the number of streamed content / tool-call chunks.
``prompt_tokens`` (:func:`count_prompt_tokens`) is the number of whitespace-separated words in the
text of every message, the names and arguments of assistant tool calls, and the name and description
of every offered tool -- no per-message overhead.

Latency (per model: ``config.profiles[model]``, else ``profiles["*"]``, else the top-level fields)
--------------------------------------------------------------------------------------------------
A stream sends its headers at once, the first token after ``ttft_ms``, then one piece every
``1/tokens_per_s`` s (0 = no delay), on an absolute schedule (pieces that are due together go out in
one write). A non-streaming answer waits ``ttft_ms + pieces / tokens_per_s``. All waits are
``asyncio`` timers that end early when the client goes away; optional ``context_window`` gives 400
``context_length_exceeded`` when prompt tokens + ``max_tokens`` exceed it.

Faults (per model name, ``"*"`` for every model without its own entry; :class:`FaultSpec`)
-----------------------------------------------------------------------------------------
``{"kind": "status_429", "retry_after": 2}`` 429 + ``Retry-After`` + code ``rate_limit_exceeded``;
``{"kind": "status_500"}``; ``{"kind": "status_400", "code": "context_length_exceeded"}``;
``{"kind": "hang"}`` no answer until the client disconnects (or the server stops);
``{"kind": "break_after_tokens", "break_after_tokens": N}`` (or just ``{"break_after_tokens": N}``)
N token chunks, then the connection is dropped without ``[DONE]`` (non-streaming: half a body);
``"rate_limit_window": {"requests": N, "seconds": T}`` 429 once N requests were accepted within
the last T seconds (it can be combined with a kind). Modifiers: ``"fail_times": K`` only the next K
requests get the fault, then they succeed; ``"probability": p``. Counters are kept per model name
and restart when the model's faults are set again. Faults apply to chat and embeddings requests.
They are set in the config (CLI ``--fault MODEL:KIND[:ARG]``) and at runtime through
``/_sim/faults``: ``PUT`` body ``{model: spec | null}`` (or ``{"model": m, "fault": spec}``)
merges, ``?replace=1`` replaces; ``DELETE`` clears all or ``?model=``; ``GET`` shows them with
``remaining`` fail_times. ``POST /_sim/reset`` restores the configured faults and rules and zeroes
the stats.

Embeddings
----------
:func:`embed_text`: lower-cased words (plural "s" dropped, a few stop words ignored) hashed into
``dim`` signed buckets, L2-normalised; texts sharing words are close, unrelated texts near
orthogonal; a text without words gets a unit vector chosen by the hash of the text. Default dim
384; ``dimensions`` is honoured; ``encoding_format`` float or base64.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from devtools.llmservers import protocol as proto
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

logger = logging.getLogger(__name__)

JUDGE_REPLY = '{"score": 1.0, "passed": true, "reason": "simulated"}'
FILLER_WORDS = tuple(
    (  # noqa: SIM905
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua"
    ).split()
)
FAULT_KINDS = ("status_429", "status_500", "status_400", "hang", "break_after_tokens")
DEFAULT_MODEL = "simulator"
SYSTEM_FINGERPRINT = "fp_simulator"

# ------------------------------------------------------------------------------ configuration


@dataclass
class ModelProfile:
    """Latency model of one model name (see the module docstring)."""

    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0: no delay between pieces
    reply_tokens: int = 20  # length of the echo reply, in pieces
    context_window: int | None = None

    @classmethod
    def from_value(cls, value: ModelProfile | Mapping[str, Any]) -> ModelProfile:
        if isinstance(value, ModelProfile):
            return value
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown profile keys: {sorted(unknown)}")
        return cls(**value)


@dataclass
class FaultSpec:
    """One fault configuration (see the module docstring). ``fail_times=None``: every request."""

    kind: str | None = None
    retry_after: float = 1.0
    code: str | None = None
    message: str | None = None
    break_after_tokens: int = 0
    fail_times: int | None = None
    probability: float = 1.0
    rate_limit_window: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")
        if self.kind is None and self.rate_limit_window is None:
            raise ValueError("a fault needs a 'kind' or a 'rate_limit_window'")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.kind == "break_after_tokens" and self.break_after_tokens < 0:
            raise ValueError("break_after_tokens must be >= 0")
        if self.fail_times is not None and self.fail_times < 0:
            raise ValueError("fail_times must be >= 0")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        window = self.rate_limit_window
        if window is not None:
            if set(window) != {"requests", "seconds"}:
                raise ValueError("rate_limit_window is {'requests': N, 'seconds': T}")
            if int(window["requests"]) < 1 or float(window["seconds"]) <= 0:
                raise ValueError("rate_limit_window needs requests >= 1 and seconds > 0")
            self.rate_limit_window = {
                "requests": int(window["requests"]),
                "seconds": float(window["seconds"]),
            }

    @classmethod
    def from_value(cls, value: FaultSpec | Mapping[str, Any]) -> FaultSpec:
        """From a dict; the kind may also be given as a key: ``{"break_after_tokens": 3}``,
        ``{"hang": true}``, ``{"status_429": {"retry_after": 2}}``. Unknown keys are errors."""
        if isinstance(value, FaultSpec):
            return replace(value)
        if not isinstance(value, Mapping):
            raise ValueError("a fault spec is a JSON object")
        data = dict(value)
        if "kind" not in data:
            kinds = [k for k in FAULT_KINDS if k in data]
            if len(kinds) > 1:
                raise ValueError(f"several fault kinds given: {kinds}")
            if kinds:
                kind = kinds[0]
                arg = data.pop(kind) if kind != "break_after_tokens" else data[kind]
                if arg is False:
                    raise ValueError(f"{kind}: false is not a fault")
                if isinstance(arg, Mapping):
                    data.update(arg)
                data["kind"] = kind
        allowed = {f.name for f in fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_dict(self) -> JSON:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class SimulatorConfig:
    """Everything the simulator can be told at start. Top-level latency fields are the defaults
    for models without a profile in ``profiles`` (a ``"*"`` profile overrides them)."""

    host: str = "127.0.0.1"
    port: int = 8800
    models: list[str] | None = None  # None: any model name is accepted
    api_key: str | None = None  # None: no auth; "*": any bearer token
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    reply_tokens: int = 20
    context_window: int | None = None
    profiles: dict[str, ModelProfile | dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, FaultSpec | dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] | str | Path | None = None
    embedding_dim: int = 384
    embedding_latency_ms: float = 0.0
    seed: int = 0  # for fault probabilities
    max_body_bytes: int = proto.DEFAULT_MAX_BODY


# ---------------------------------------------------------------------------------- tokens


_PIECE_RE = re.compile(r"\s*\S+")
_WORD_RE = re.compile(r"\S+")


def split_pieces(text: str) -> list[str]:
    """Word-ish token pieces with the spaces attached in front; ``"".join`` gives ``text``."""
    pieces = _PIECE_RE.findall(text)
    if not pieces:
        return [text] if text else []
    tail = len(text) - sum(map(len, pieces))
    if tail:
        pieces[-1] += text[-tail:]
    return pieces


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def count_prompt_tokens(messages: list[JSON], tools: list[JSON] | None = None) -> int:
    """The documented prompt-token rule (module docstring, "Tokens")."""
    total = 0
    for msg in messages:
        total += count_words(proto.message_text(msg.get("content")))
        for call in msg.get("tool_calls") or ():
            fn = (call.get("function") or {}) if isinstance(call, dict) else {}
            total += count_words(str(fn.get("name") or ""))
            total += count_words(str(fn.get("arguments") or ""))
    for tool in tools or ():
        fn = tool.get("function") or {}
        total += count_words(str(fn.get("name") or ""))
        total += count_words(str(fn.get("description") or ""))
    return total


def echo_reply(text: str, reply_tokens: int) -> str:
    """``"You said: <text>."`` padded with filler words or cut to exactly ``reply_tokens`` pieces
    (``reply_tokens <= 0``: neither padded nor cut)."""
    collapsed = " ".join(text.split())
    if not collapsed:
        head = "You said nothing."
    else:
        head = f"You said: {collapsed}"
        if head[-1] not in ".!?":
            head += "."
    if reply_tokens <= 0:
        return head
    pieces = split_pieces(head)
    if len(pieces) >= reply_tokens:
        return "".join(pieces[:reply_tokens])
    return head + _filler(reply_tokens - len(pieces))


@lru_cache(maxsize=1024)
def _filler(count: int) -> str:
    return "".join(" " + FILLER_WORDS[i % len(FILLER_WORDS)] for i in range(count))


# ------------------------------------------------------------------------------- embeddings


_EMBED_WORD_RE = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    (  # noqa: SIM905
        "a an and are as at be but by for from has have i in is it its me my of on or our that "
        "the their them there these this to was we were what when where which who will with you "
        "your"
    ).split()
)


@lru_cache(maxsize=65536)
def _bucket(word: str, dim: int) -> tuple[int, float]:
    n = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return n % dim, (1.0 if n >> 63 else -1.0)


def _embed_words(text: str) -> list[str]:
    words = _EMBED_WORD_RE.findall(text.lower())
    kept = [w for w in words if w not in _STOP_WORDS] or words
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in kept]


def embed_text(text: str, dim: int = 384) -> list[float]:
    """A deterministic unit vector for ``text`` (module docstring, "Embeddings")."""
    vec = [0.0] * dim
    words = _embed_words(text)
    if not words:
        words = ["\0" + " ".join(text.split()).lower()]
    for word in words:
        idx, sign = _bucket(word, dim)
        vec[idx] += sign
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0.0:  # every word cancelled out: fall back to the text's own bucket
        idx, sign = _bucket("\0" + text, dim)
        vec[idx] = sign
        norm = 1.0
    return [x / norm for x in vec]


# ----------------------------------------------------------------------------- tool intents


_NUM = r"\d+(?:\.\d+)?"
_OPERAND = rf"\(*\s*-?\s*{_NUM}\s*\)*"
_EXPR_RE = re.compile(rf"{_OPERAND}(?:\s*(?:\*\*|[-+*/%^])\s*{_OPERAND})+")
_WORD_OPS = [
    (re.compile(r"\s*\b(?:multiplied by|times)\b\s*", re.I), " * "),
    (re.compile(r"\s*\bdivided by\b\s*", re.I), " / "),
    (re.compile(r"\s*\bplus\b\s*", re.I), " + "),
    (re.compile(r"\s*\bminus\b\s*", re.I), " - "),
    (re.compile(r"(?<=\d)\s*[x\u00d7]\s*(?=\d)"), " * "),
    (re.compile("\u00f7"), " / "),
]
_ARITH_INTENT_RE = re.compile(
    r"\b(?:what(?:'s| is| are)|calculate|calc|compute|evaluate|how much|solve|result of|equals?)\b"
    r"|=",
    re.I,
)
_DATE_LIKE_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}/\d{1,2}/\d{2,4}$")
_TIME_INTENT_RE = re.compile(r"\b(?:time|date|today|clock|what day)\b", re.I)
_IANA_RE = re.compile(r"\b[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_\-]+)+\b")
_TZ_ABBREVIATIONS = tuple(
    (  # noqa: SIM905
        "UTC GMT EST EDT CST CDT MST MDT PST PDT CET CEST EET EEST WET BST IST JST KST AEST AEDT"
    ).split()
)
_TZ_ABBR_RE = re.compile(r"\b(" + "|".join(_TZ_ABBREVIATIONS) + r")\b")


def _balanced(expr: str) -> str:
    expr = expr.strip()
    while expr.count("(") > expr.count(")") and expr.startswith("("):
        expr = expr[1:].strip()
    while expr.count(")") > expr.count("(") and expr.endswith(")"):
        expr = expr[:-1].strip()
    return expr


def find_arithmetic(text: str) -> list[tuple[int, str]]:
    """Arithmetic asks in ``text``: ``[(position, expression)]``. Needs an asking word ("what is",
    "calculate", ...) unless the message is just the expression."""
    normalised = text
    for pattern, op in _WORD_OPS:
        normalised = pattern.sub(op, normalised)
    found = []
    for m in _EXPR_RE.finditer(normalised):
        expr = " ".join(_balanced(m.group()).split())
        if expr and not _DATE_LIKE_RE.match(expr.replace(" ", "")):
            found.append((m.start(), expr))
    if not found:
        return []
    bare = normalised.strip().rstrip("?.! ").strip()
    if not _ARITH_INTENT_RE.search(text) and not (len(found) == 1 and bare == found[0][1]):
        return []
    return found


_ZONE_AREAS = frozenset(
    (  # noqa: SIM905
        "Africa America Antarctica Asia Atlantic Australia Europe Indian Pacific"
    ).split()
)
_NOT_CITIES = frozenset(
    (  # noqa: SIM905
        "north south east west central eastern pacific christmas easter casey davis jersey "
        "center general continental midway troll stanley mountain atlantic mahe macquarie"
    ).split()
)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    try:
        import zoneinfo

        names = set(zoneinfo.available_timezones())
    except Exception:  # pragma: no cover - no tz database
        names = set()
    names |= {"Asia/Tokyo", "Europe/London", "Europe/Paris", "America/New_York", "Europe/Berlin"}
    return frozenset(names)


@lru_cache(maxsize=1)
def _city_zones() -> dict[str, str]:
    cities = {}
    for name in sorted(_zone_names()):
        area, _, city = name.partition("/")
        if area in _ZONE_AREAS and city and "/" not in city:
            key = city.replace("_", " ").lower()
            if key not in _NOT_CITIES:
                cities.setdefault(key, name)
    return cities


def find_timezones(text: str) -> list[tuple[int, str]]:
    """Time zones named in ``text`` (IANA names, abbreviations, city names), by position."""
    found: dict[str, int] = {}
    for m in _IANA_RE.finditer(text):
        if m.group() in _zone_names():
            found.setdefault(m.group(), m.start())
    for m in _TZ_ABBR_RE.finditer(text):
        found.setdefault(m.group(), m.start())
    lower = text.lower()
    for city, zone in _city_zones().items():
        pos = lower.find(city)
        if pos < 0 or zone in found:
            continue
        end = pos + len(city)
        if (pos == 0 or not lower[pos - 1].isalnum()) and (
            end == len(lower) or not lower[end].isalnum()
        ):
            found[zone] = pos
    return sorted(((p, z) for z, p in found.items()), key=lambda x: x[0])


def _properties(spec: JSON) -> dict[str, Any]:
    params = spec.get("parameters") or {}
    props = params.get("properties") if isinstance(params, dict) else None
    return props if isinstance(props, dict) else {}


def _fit_arguments(spec: JSON, args: dict[str, Any]) -> dict[str, Any]:
    """Rename our single argument to the tool's only parameter if their names differ."""
    props = _properties(spec)
    if len(args) == 1 and len(props) == 1:
        (key, value), (prop,) = next(iter(args.items())), props
        if key != prop:
            return {prop: value}
    return args


def synthesize_arguments(spec: JSON, user_text: str) -> dict[str, Any]:
    """Arguments for a forced call: the tool's required properties filled from the user text."""
    name = spec.get("name")
    if name == "calculator":
        exprs = find_arithmetic(user_text)
        return _fit_arguments(spec, {"expression": exprs[0][1] if exprs else user_text})
    if name == "current_time":
        zones = find_timezones(user_text)
        return _fit_arguments(spec, {"timezone": zones[0][1] if zones else "UTC"})
    params = spec.get("parameters") or {}
    props = _properties(spec)
    required = params.get("required") if isinstance(params, dict) else None
    keys = required if isinstance(required, list) else []
    args: dict[str, Any] = {}
    for key in keys:
        prop = props.get(key) if isinstance(props.get(key), dict) else {}
        if prop.get("enum"):
            args[key] = prop["enum"][0]
            continue
        args[key] = {"number": 0, "integer": 0, "boolean": False, "array": [], "object": {}}.get(
            prop.get("type"), user_text
        )
    return args


# --------------------------------------------------------------------------------- rules


@dataclass
class Rule:
    pattern: re.Pattern[str]
    reply: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    model: str | None = None
    source: JSON = field(default_factory=dict)
    system: re.Pattern[str] | None = None  # must also be found in the system prompt


def load_rules(
    source: list[Mapping[str, Any]] | Mapping[str, Any] | str | Path | None,
) -> list[Rule]:
    """Scripted rules from a list, ``{"rules": [...]}``, or a JSON file path. Raises ValueError."""
    if source is None:
        return []
    if isinstance(source, (str, Path)):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    if isinstance(source, Mapping):
        source = source.get("rules")
    if not isinstance(source, list):
        raise ValueError("rules must be a list of {'match', 'reply' | 'tool_calls'} objects")
    rules = []
    for i, raw in enumerate(source):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("match"), str):
            raise ValueError(f"rule {i}: needs a 'match' regex string")
        unknown = set(raw) - {"match", "reply", "tool_calls", "model", "system"}
        if unknown:
            raise ValueError(f"rule {i}: unknown keys {sorted(unknown)}")
        if ("reply" in raw) == ("tool_calls" in raw):
            raise ValueError(f"rule {i}: give exactly one of 'reply' and 'tool_calls'")
        try:
            pattern = re.compile(raw["match"], re.IGNORECASE | re.DOTALL)
            system = raw.get("system")
            system = re.compile(system, re.IGNORECASE | re.DOTALL) if system else None
        except re.error as exc:
            raise ValueError(f"rule {i}: bad regex: {exc}") from None
        calls = []
        if "tool_calls" in raw:
            if not isinstance(raw["tool_calls"], list) or not raw["tool_calls"]:
                raise ValueError(f"rule {i}: 'tool_calls' must be a non-empty list")
            for call in raw["tool_calls"]:
                if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                    raise ValueError(f"rule {i}: each tool call needs a 'name'")
                arguments = call.get("arguments", {})
                if not isinstance(arguments, dict):
                    raise ValueError(f"rule {i}: tool call 'arguments' must be an object")
                calls.append((call["name"], dict(arguments)))
        elif not isinstance(raw["reply"], str):
            raise ValueError(f"rule {i}: 'reply' must be a string")
        rules.append(Rule(pattern, raw.get("reply"), calls, raw.get("model"), dict(raw), system))
    return rules


# ---------------------------------------------------------------------------------- planning


@dataclass
class Plan:
    """What one chat request answers: text or tool calls, and the token pieces."""

    text: str | None
    tool_calls: list[ToolCall]
    arg_pieces: list[list[str]]
    pieces: list[str]
    finish_reason: str

    @property
    def completion_tokens(self) -> int:
        if self.tool_calls:
            return sum(1 + len(p) for p in self.arg_pieces)
        return len(self.pieces)


def _quote_results(contents: list[str]) -> str:
    contents = [" ".join(c.split()) for c in contents]
    if len(contents) == 1:
        return f"The result is {contents[0]}."
    return f"The results are {', '.join(contents[:-1])} and {contents[-1]}."


def _is_judge_prompt(system_text: str) -> bool:
    return bool(
        re.search(r"\bjson\b", system_text, re.I) and re.search(r"score", system_text, re.I)
    )


def plan_reply(req: ChatRequest, rules: list[Rule], reply_tokens: int) -> Plan:
    """The deterministic reply to ``req`` (module docstring, "Replies")."""
    messages = req.messages
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user_text = proto.message_text(messages[last_user].get("content")) if last_user >= 0 else ""
    system_text = "\n".join(
        proto.message_text(m.get("content"))
        for m in messages
        if m.get("role") in ("system", "developer")
    )
    # Tool results already in the conversation, by (name, canonical arguments).
    calls_by_id: dict[str, tuple[str, str]] = {}
    results: dict[tuple[str, str], str] = {}
    recent: list[str] = []
    for i, msg in enumerate(messages):
        for call in msg.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            fn = call.get("function") or {}
            if isinstance(call.get("id"), str):
                calls_by_id[call["id"]] = proto.tool_call_key(
                    str(fn.get("name")), fn.get("arguments") or ""
                )
        if msg.get("role") == "tool":
            content = proto.message_text(msg.get("content"))
            key = calls_by_id.get(msg.get("tool_call_id", ""))
            if key is not None:
                results[key] = content
            if i > last_user:
                recent.append(content)

    offered = req.tool_specs
    allowed = set(offered) if req.tool_choice != "none" else set()
    if req.tool_choice == "named":
        allowed = {req.tool_choice_name}

    def tool_plan(calls: list[tuple[str, dict[str, Any]]]) -> Plan:
        if not req.parallel_tool_calls:
            calls = calls[:1]
        tool_calls, arg_pieces = [], []
        for idx, (name, args) in enumerate(calls):
            arguments = json.dumps(args, ensure_ascii=False)
            digest = hashlib.sha1(  # noqa: S324 - an id, not security
                f"{len(messages)}|{idx}|{name}|{arguments}|{user_text}".encode()
            ).hexdigest()
            tool_calls.append(ToolCall(f"call_{digest[:24]}", name, arguments))
            arg_pieces.append(split_pieces(arguments))
        return Plan(None, tool_calls, arg_pieces, [], "tool_calls")

    def new_calls(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (n, a) for n, a in calls if n in allowed and proto.tool_call_key(n, a) not in results
        ]

    text: str | None = None
    for rule in rules:
        if rule.model is not None and rule.model != req.model:
            continue
        if not rule.pattern.search(user_text):
            continue
        if rule.system is not None and not rule.system.search(system_text):
            continue
        if rule.reply is not None:
            text = rule.reply
            break
        calls = new_calls(rule.tool_calls)
        if calls:
            return tool_plan(calls)

    if text is None and _is_judge_prompt(system_text):
        text = JUDGE_REPLY

    if text is None:
        intents: list[tuple[int, str, dict[str, Any]]] = []
        if "calculator" in offered:
            for pos, expr in find_arithmetic(user_text):
                args = _fit_arguments(offered["calculator"], {"expression": expr})
                intents.append((pos, "calculator", args))
        if "current_time" in offered:
            m = _TIME_INTENT_RE.search(user_text)
            if m:
                zones = find_timezones(user_text) or [(m.start(), "UTC")]
                for pos, zone in zones:
                    args = _fit_arguments(offered["current_time"], {"timezone": zone})
                    intents.append((pos, "current_time", args))
        intents.sort(key=lambda x: x[0])
        asked = [(n, a) for _, n, a in intents]
        calls = new_calls(asked)
        if not calls and not recent and req.tool_choice in ("required", "named"):
            name = req.tool_choice_name or next(iter(offered))
            calls = new_calls([(name, synthesize_arguments(offered[name], user_text))])
        if calls:
            return tool_plan(calls)
        known = [results[k] for k in (proto.tool_call_key(n, a) for n, a in asked) if k in results]
        if recent:
            text = _quote_results(recent)
        elif known:
            text = _quote_results(known)
        else:
            text = echo_reply(user_text, reply_tokens)

    finish = "stop"
    for stop in req.stop:
        pos = text.find(stop)
        if pos >= 0:
            text = text[:pos]
    pieces = split_pieces(text)
    if req.max_tokens is not None and len(pieces) > req.max_tokens:
        pieces = pieces[: req.max_tokens]
        text = "".join(pieces)
        finish = "length"
    return Plan(text, [], [], pieces, finish)


# ------------------------------------------------------------------------------ fault state


@dataclass
class _FaultState:
    spec: FaultSpec
    failures: int = 0
    window: deque[float] = field(default_factory=deque)


@dataclass
class _Decision:
    outcome: str  # "status_429" | "rate_limited" | "status_500" | ... | "hang" | "broken"
    spec: FaultSpec
    error: OpenAIError | None = None


_ABORTING: contextvars.ContextVar[bool] = contextvars.ContextVar("sim_aborting", default=False)
_UVICORN_ABORT_MESSAGES = (
    "ASGI callable returned without completing response.",
    "ASGI callable returned without starting response.",
)


class _AbortLogFilter(logging.Filter):
    """Silences uvicorn's complaint about a response we dropped on purpose (same task context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_ABORTING.get() and record.msg in _UVICORN_ABORT_MESSAGES)


def _install_log_filter() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AbortLogFilter) for f in log.filters):
        log.addFilter(_AbortLogFilter())


# ------------------------------------------------------------------------------- simulator


class Simulator:
    """The simulator's state and its ASGI application (an instance is the app).

    Admin methods (``set_faults``, ``clear_faults``, ``set_rules``, ``stats``, ``reset``) are
    thread-safe and may be called from any thread while the server runs.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._lock = threading.Lock()
        self._initial_faults = {
            m: FaultSpec.from_value(s) for m, s in (self.config.faults or {}).items()
        }
        self._initial_rules = load_rules(self.config.rules)
        self._profiles = {
            m: ModelProfile.from_value(p) for m, p in (self.config.profiles or {}).items()
        }
        self._default_profile = ModelProfile(
            ttft_ms=self.config.ttft_ms,
            tokens_per_s=self.config.tokens_per_s,
            reply_tokens=self.config.reply_tokens,
            context_window=self.config.context_window,
        )
        self._rng = random.Random(self.config.seed)  # noqa: S311 - simulated faults
        self._faults: dict[str, FaultSpec] = {}
        self._states: dict[str, _FaultState] = {}
        self._rules: list[Rule] = []
        self._stats: dict[str, Any] = {}
        self.active_requests = 0
        self._closing: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._routes = {
            "/v1/chat/completions": {"POST": self._chat},
            "/v1/embeddings": {"POST": self._embeddings},
            "/v1/models": {"GET": self._models},
            "/_sim/faults": {
                "GET": self._admin_faults,
                "PUT": self._admin_faults,
                "DELETE": self._admin_faults,
            },
            "/_sim/rules": {"GET": self._admin_rules, "PUT": self._admin_rules},
            "/_sim/stats": {"GET": self._admin_stats},
            "/_sim/reset": {"POST": self._admin_reset},
        }
        for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/models"):
            self._routes[path[3:]] = self._routes[path]
        self.reset()
        _install_log_filter()

    # ---------------------------------------------------------------- admin (thread-safe)

    def profile(self, model: str) -> ModelProfile:
        return self._profiles.get(model) or self._profiles.get("*") or self._default_profile

    def set_faults(self, model: str, spec: FaultSpec | Mapping[str, Any] | None) -> None:
        """Set (or, with ``None``, clear) the fault of ``model`` (``"*"``: the default)."""
        parsed = None if spec is None else FaultSpec.from_value(spec)
        with self._lock:
            if parsed is None:
                self._faults.pop(model, None)
            else:
                self._faults[model] = parsed
            self._states = {m: s for m, s in self._states.items() if self._spec_for(m) is s.spec}

    def clear_faults(self, model: str | None = None) -> None:
        with self._lock:
            if model is None:
                self._faults.clear()
            else:
                self._faults.pop(model, None)
            self._states = {m: s for m, s in self._states.items() if self._spec_for(m) is s.spec}

    def faults(self) -> dict[str, JSON]:
        with self._lock:
            out = {m: s.to_dict() for m, s in self._faults.items()}
            for model, state in self._states.items():
                if state.spec.fail_times is not None and model in out:
                    out[model]["remaining"] = max(0, state.spec.fail_times - state.failures)
            return out

    def set_rules(self, rules: list[Mapping[str, Any]] | Mapping[str, Any] | str | Path) -> None:
        parsed = load_rules(rules)
        with self._lock:
            self._rules = parsed

    def rules(self) -> list[JSON]:
        with self._lock:
            return [r.source for r in self._rules]

    def stats(self) -> JSON:
        """``{"total": {"requests", "outcomes"}, "models": {name: {...}}, "endpoints": {...},
        "active": n}``; outcomes: ok, status_429, rate_limited, status_500, status_400, hang,
        broken, disconnected, bad_request, unauthorized, model_not_found, context_length."""
        with self._lock:
            return json.loads(json.dumps(self._stats)) | {"active": self.active_requests}

    def reset(self) -> None:
        """Configured faults and rules back, counters and stats zeroed."""
        with self._lock:
            self._faults = {m: replace(s) for m, s in self._initial_faults.items()}
            self._states = {}
            self._rules = list(self._initial_rules)
            self._rng = random.Random(self.config.seed)  # noqa: S311 - simulated faults
            self._stats = {"total": {"requests": 0, "outcomes": {}}, "models": {}, "endpoints": {}}

    # ------------------------------------------------------------------------ internals

    def _spec_for(self, model: str) -> FaultSpec | None:
        return self._faults.get(model) or self._faults.get("*")

    def _count_request(self, endpoint: str, model: str | None) -> None:
        with self._lock:
            self._stats["total"]["requests"] += 1
            eps = self._stats["endpoints"]
            eps[endpoint] = eps.get(endpoint, 0) + 1
            if model is not None:
                entry = self._stats["models"].setdefault(model, {"requests": 0, "outcomes": {}})
                entry["requests"] += 1

    def _count_outcome(self, model: str | None, outcome: str) -> None:
        with self._lock:
            targets = [self._stats["total"]]
            if model is not None and model in self._stats["models"]:
                targets.append(self._stats["models"][model])
            for entry in targets:
                entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1

    def _decide_fault(self, model: str) -> _Decision | None:
        with self._lock:
            spec = self._spec_for(model)
            if spec is None:
                return None
            state = self._states.get(model)
            if state is None or state.spec is not spec:
                state = self._states[model] = _FaultState(spec)
            window = spec.rate_limit_window
            if window is not None:
                now = time.monotonic()
                horizon = now - window["seconds"]
                while state.window and state.window[0] <= horizon:
                    state.window.popleft()
                if len(state.window) >= window["requests"]:
                    retry = state.window[0] + window["seconds"] - now
                    return _Decision("rate_limited", spec, proto.rate_limit_exceeded(retry))
                state.window.append(now)
            if spec.kind is None:
                return None
            if spec.fail_times is not None and state.failures >= spec.fail_times:
                return None
            if spec.probability < 1.0 and self._rng.random() >= spec.probability:
                return None
            state.failures += 1
        kind = spec.kind
        if kind == "status_429":
            return _Decision(kind, spec, proto.rate_limit_exceeded(spec.retry_after, spec.message))
        if kind == "status_500":
            return _Decision(kind, spec, proto.server_error(spec.message, spec.code))
        if kind == "status_400":
            code = spec.code or "context_length_exceeded"
            if code == "context_length_exceeded":
                error = proto.context_length_exceeded(message=spec.message)
            else:
                error = proto.invalid_request(
                    spec.message or f"Simulated error: {code}", None, code
                )
            return _Decision(kind, spec, error)
        if kind == "hang":
            return _Decision("hang", spec)
        return _Decision("broken", spec)

    def _closing_future(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._closing is None or self._loop is not loop:
            self._loop = loop
            self._closing = loop.create_future()
        return self._closing

    def begin_shutdown(self) -> None:
        """End hanging requests and streams (call in the server's event loop)."""
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)

    def _check_auth(self, scope: Scope) -> None:
        key = self.config.api_key
        if key is None:
            return
        token = proto.bearer_token(scope)
        if token is None or (key != "*" and token != key):
            raise proto.invalid_api_key()

    def _check_model(self, model: str) -> None:
        if self.config.models is not None and model not in self.config.models:
            raise proto.model_not_found(model)

    # ----------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._closing_future()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.begin_shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") or "/"
        methods = self._routes.get(path)
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        self.active_requests += 1
        try:
            if methods is None:
                raise proto.not_found(path)
            handler = methods.get(scope["method"])
            if handler is None:
                raise proto.method_not_allowed(scope["method"], path)
            try:
                self._check_auth(scope)
            except OpenAIError:
                self._count_request("auth", None)
                self._count_outcome(None, "unauthorized")
                raise
            await handler(scope, receive, tracked_send)
        except OpenAIError as exc:
            if not started:
                await proto.send_error(send, exc)
        except ConnectionAbortedError:
            pass
        except Exception:
            logger.exception("LLM simulator: unexpected error on %s %s", scope["method"], path)
            if not started:
                await proto.send_error(send, proto.server_error(code="simulator_bug"))
        finally:
            self.active_requests -= 1

    async def _read_json(self, receive: Receive) -> JSON:
        body = await proto.read_body(receive, self.config.max_body_bytes)
        return proto.parse_json_body(body) if body.strip() else {}

    async def _abort(self, send: Send, body: bytes | None = None) -> None:
        """Drop the connection: after ``body[: len // 2]`` of a declared full body, or, for a
        started stream, right away (the handler returns without finishing the response)."""
        _ABORTING.set(True)
        if body is not None:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await proto.send_body(send, body[: len(body) // 2], more=True)

    async def _prologue(self, endpoint: str, scope: Scope, receive: Receive, parse: Any) -> Any:
        try:
            data = await self._read_json(receive)
            req = parse(data)
        except OpenAIError:
            self._count_request(endpoint, None)
            self._count_outcome(None, "bad_request")
            raise
        self._count_request(endpoint, req.model)
        try:
            self._check_model(req.model)
        except OpenAIError:
            self._count_outcome(req.model, "model_not_found")
            raise
        return req

    async def _hang(self, watcher: asyncio.Future[None]) -> None:
        await asyncio.wait((watcher, self._closing_future()), return_when=asyncio.FIRST_COMPLETED)

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        req: ChatRequest = await self._prologue("chat", scope, receive, proto.parse_chat_request)
        model = req.model
        decision = self._decide_fault(model)
        if decision is not None and decision.error is not None:
            self._count_outcome(model, decision.outcome)
            raise decision.error
        profile = self.profile(model)
        prompt_tokens = count_prompt_tokens(req.messages, req.tools)
        window = profile.context_window
        if window is not None and prompt_tokens + (req.max_tokens or 0) > window:
            self._count_outcome(model, "context_length")
            raise proto.context_length_exceeded(prompt_tokens, window)
        with self._lock:
            rules = self._rules
        plan = plan_reply(req, rules, profile.reply_tokens)
        usage = Usage(prompt_tokens, plan.completion_tokens)

        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        try:
            if decision is not None and decision.outcome == "hang":
                self._count_outcome(model, "hang")
                await self._hang(watcher)
                await self._abort(send)
                return
            break_after = decision.spec.break_after_tokens if decision is not None else None
            if req.stream:
                outcome = await self._stream(send, watcher, req, plan, usage, profile, break_after)
            else:
                outcome = await self._complete(
                    send, watcher, req, plan, usage, profile, break_after
                )
            self._count_outcome(model, outcome)
            if outcome != "ok":
                await self._abort(send)
        finally:
            watcher.cancel()

    async def _delay(self, watcher: asyncio.Future[None], seconds: float) -> bool:
        """Wait ``seconds``; False if the client left or the server is stopping meanwhile."""
        closing = self._closing_future()
        if seconds > 0:
            await asyncio.wait((watcher, closing), timeout=seconds)
        return not (watcher.done() or closing.done())

    async def _complete(
        self,
        send: Send,
        watcher: asyncio.Future[None],
        req: ChatRequest,
        plan: Plan,
        usage: Usage,
        profile: ModelProfile,
        break_after: int | None,
    ) -> str:
        tps = profile.tokens_per_s
        delay = profile.ttft_ms / 1000 + (usage.completion_tokens / tps if tps > 0 else 0.0)
        if not await self._delay(watcher, delay):
            return "disconnected"
        body = proto.chat_completion(
            model=req.model,
            content=plan.text,
            tool_calls=plan.tool_calls,
            finish_reason=plan.finish_reason,
            usage=usage,
            system_fingerprint=SYSTEM_FINGERPRINT,
        )
        if break_after is not None:
            await self._abort(send, proto.dumpb(body))
            return "broken"
        await proto.send_json(send, 200, body)
        return "ok"

    async def _stream(
        self,
        send: Send,
        watcher: asyncio.Future[None],
        req: ChatRequest,
        plan: Plan,
        usage: Usage,
        profile: ModelProfile,
        break_after: int | None,
    ) -> str:
        enc = ChunkEncoder(
            req.model, include_usage=req.include_usage, system_fingerprint=SYSTEM_FINGERPRINT
        )
        if plan.tool_calls:
            opening = enc.role(None)
            chunks = []
            for index, (call, pieces) in enumerate(
                zip(plan.tool_calls, plan.arg_pieces, strict=True)
            ):
                chunks.append(enc.tool_call_start(index, call.id, call.name))
                chunks.extend(enc.tool_call_arguments(index, p) for p in pieces)
        else:
            opening = enc.role("")
            chunks = [enc.content(p) for p in plan.pieces]
        trailer = enc.finish(plan.finish_reason)
        if req.include_usage:
            trailer += enc.usage(usage)
        trailer += proto.SSE_DONE

        loop = asyncio.get_running_loop()
        start = loop.time()
        await proto.start_sse(send)
        ttft = profile.ttft_ms / 1000
        if not await self._delay(watcher, ttft):
            return "disconnected"
        closing = self._closing_future()
        interval = 1.0 / profile.tokens_per_s if profile.tokens_per_s > 0 else 0.0
        limit = len(chunks) if break_after is None else min(break_after, len(chunks))
        first = start + ttft
        pending = opening
        i = 0
        while i < limit:
            if interval:
                delay = first + i * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if watcher.done() or closing.done():
                        return "disconnected"
                due = int((loop.time() - first) / interval) + 1
                j = min(limit, max(i + 1, due))
            else:
                j = limit
            await proto.send_body(send, pending + b"".join(chunks[i:j]))
            pending = b""
            i = j
        if break_after is not None:
            if pending:
                await proto.send_body(send, pending)
            return "broken"
        await proto.send_body(send, pending + trailer, more=False)
        return "ok"

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = await self._prologue("embeddings", scope, receive, proto.parse_embeddings_request)
        decision = self._decide_fault(req.model)
        if decision is not None and decision.error is not None:
            self._count_outcome(req.model, decision.outcome)
            raise decision.error
        dim = req.dimensions or self.config.embedding_dim
        if dim > 65536:
            self._count_outcome(req.model, "bad_request")
            raise proto.invalid_request("'dimensions' is too large (max 65536).", "dimensions")
        texts = [x if isinstance(x, str) else " ".join(f"t{t}" for t in x) for x in req.inputs]
        watcher = asyncio.ensure_future(proto.wait_for_disconnect(receive))
        try:
            if decision is not None and decision.outcome == "hang":
                self._count_outcome(req.model, "hang")
                await self._hang(watcher)
                await self._abort(send)
                return
            if not await self._delay(watcher, self.config.embedding_latency_ms / 1000):
                self._count_outcome(req.model, "disconnected")
                return
            vectors = [embed_text(t, dim) for t in texts]
            tokens = sum(count_words(t) for t in texts)
            body = proto.embeddings_response(req.model, vectors, tokens, req.encoding_format)
            if decision is not None and decision.outcome == "broken":
                self._count_outcome(req.model, "broken")
                await self._abort(send, proto.dumpb(body))
                return
            await proto.send_json(send, 200, body)
            self._count_outcome(req.model, "ok")
        finally:
            watcher.cancel()

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = self.config.models or [DEFAULT_MODEL]
        await proto.send_json(send, 200, proto.models_response(names, owned_by="simulator"))

    async def _admin_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        method = scope["method"]
        if method == "PUT":
            data = await self._read_json(receive)
            if "model" in data and "fault" in data and len(data) == 2:
                data = {data["model"]: data["fault"]}
            try:
                parsed = {
                    m: None if s is None else FaultSpec.from_value(s) for m, s in data.items()
                }
            except ValueError as exc:
                raise proto.invalid_request(f"Bad fault spec: {exc}") from None
            if query.get("replace", ["0"])[0] in ("1", "true", "yes"):
                self.clear_faults()
            for model, spec in parsed.items():
                self.set_faults(model, spec)
        elif method == "DELETE":
            self.clear_faults(query["model"][0] if "model" in query else None)
        await proto.send_json(send, 200, {"faults": self.faults()})

    async def _admin_rules(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "PUT":
            body = await proto.read_body(receive, self.config.max_body_bytes)
            try:
                self.set_rules(json.loads(body or b"[]"))
            except ValueError as exc:
                raise proto.invalid_request(f"Bad rules: {exc}") from None
        await proto.send_json(send, 200, {"rules": self.rules()})

    async def _admin_stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        await proto.send_json(send, 200, self.stats())

    async def _admin_reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reset()
        await proto.send_json(send, 200, {"ok": True})


def create_app(config: SimulatorConfig | None = None) -> Simulator:
    """The ASGI application (a :class:`Simulator`, whose admin methods stay usable)."""
    return Simulator(config)


# ------------------------------------------------------------------------------- serving


class SimulatorHandle(ThreadedServer):
    """A simulator running in a background thread (see :func:`running_simulator`)."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator, name="llm-simulator")
        self.simulator = simulator

    def set_faults(self, model: str, spec: FaultSpec | Mapping[str, Any] | None) -> None:
        self.simulator.set_faults(model, spec)

    def clear_faults(self, model: str | None = None) -> None:
        self.simulator.clear_faults(model)

    def set_rules(self, rules: list[Mapping[str, Any]] | Mapping[str, Any] | str | Path) -> None:
        self.simulator.set_rules(rules)

    def stats(self) -> JSON:
        return self.simulator.stats()

    def reset(self) -> None:
        self.simulator.reset()


@contextlib.contextmanager
def running_simulator(
    config: SimulatorConfig | None = None, **overrides: Any
) -> Iterator[SimulatorHandle]:
    """Run the simulator on 127.0.0.1 and a free port in a daemon thread for the ``with`` block.
    ``overrides`` replace fields of ``config``."""
    handle = SimulatorHandle(Simulator(replace(config or SimulatorConfig(), **overrides)))
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


def serve(config: SimulatorConfig, log_level: str = "info") -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    simulator = Simulator(config)
    server = uvicorn_server(simulator, host=config.host, port=config.port, log_level=log_level)
    server.run()


# ----------------------------------------------------------------------------- command line


def parse_fault(text: str) -> tuple[str, FaultSpec]:
    """``MODEL:KIND[:ARG]`` -> (model, spec). MODEL may contain ":" (``qwen2.5:1.5b``) and may be
    ``*``. KIND is one of :data:`FAULT_KINDS` or ``rate_limit_window``. ARG is the kind's main
    value (status_429: retry_after; status_400/500: code; break_after_tokens: N;
    rate_limit_window: N/T) or ``key=value`` pairs separated by commas
    (``retry_after=2,fail_times=3,probability=0.5``)."""
    parts = text.split(":")
    kinds = (*FAULT_KINDS, "rate_limit_window")
    idx = next((i for i in range(1, len(parts)) if parts[i] in kinds), None)
    if idx is None:
        raise ValueError(f"--fault {text!r}: expected MODEL:KIND[:ARG], KIND one of {kinds}")
    model, kind, arg = ":".join(parts[:idx]), parts[idx], ":".join(parts[idx + 1 :])
    data: dict[str, Any] = {} if kind == "rate_limit_window" else {"kind": kind}
    if arg and "=" in arg:
        for pair in arg.split(","):
            key, _, value = pair.partition("=")
            key = key.strip()
            if key == "rate_limit_window":
                n, _, t = value.partition("/")
                data[key] = {"requests": int(n), "seconds": float(t)}
            elif key in ("code", "message"):
                data[key] = value
            elif key in ("fail_times", "break_after_tokens"):
                data[key] = int(value)
            else:
                data[key] = float(value)
    elif arg:
        if kind == "status_429":
            data["retry_after"] = float(arg)
        elif kind in ("status_400", "status_500"):
            data["code"] = arg
        elif kind == "break_after_tokens":
            data["break_after_tokens"] = int(arg)
        elif kind == "rate_limit_window":
            n, _, t = arg.partition("/")
            data["rate_limit_window"] = {"requests": int(n), "seconds": float(t or 1)}
        else:
            raise ValueError(f"--fault {text!r}: {kind} takes no argument")
    if kind == "rate_limit_window" and "rate_limit_window" not in data:
        raise ValueError(f"--fault {text!r}: rate_limit_window needs N/T")
    return model, FaultSpec.from_value(data)


def parse_profile(text: str) -> tuple[str, ModelProfile]:
    """``MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]``; MODEL may contain ":" (then give
    REPLY_TOKENS when MODEL's last part is a number)."""
    parts = text.split(":")
    for count in (3, 2):
        if len(parts) <= count:
            continue
        model, values = ":".join(parts[:-count]), parts[-count:]
        try:
            ttft, tps = float(values[0]), float(values[1])
            reply = int(values[2]) if count == 3 else SimulatorConfig.reply_tokens
        except ValueError:
            continue
        return model, ModelProfile(ttft, tps, reply)
    raise ValueError(f"--profile {text!r}: expected MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's command-line arguments (shared by ``-m`` and ``manage.py``)."""
    defaults = SimulatorConfig()
    parser.add_argument("--host", default=defaults.host, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=defaults.port, help="default 8800")
    parser.add_argument(
        "--ttft-ms", type=float, default=defaults.ttft_ms, help="time to first token"
    )
    parser.add_argument(
        "--tokens-per-s", type=float, default=defaults.tokens_per_s, help="0: no delay"
    )
    parser.add_argument(
        "--reply-tokens", type=int, default=defaults.reply_tokens, help="echo reply length"
    )
    parser.add_argument("--context-window", type=int, default=None, help="prompt+max_tokens limit")
    parser.add_argument("--rules", default=None, help="JSON file of scripted rules")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODEL:KIND[:ARG]",
        help="e.g. gpt-4o:status_429:2, *:break_after_tokens:5, m:status_500:fail_times=2, "
        "m:rate_limit_window:10/60 (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]",
        help="per-model latency (repeatable)",
    )
    parser.add_argument("--models", default=None, help="comma-separated accepted model names")
    parser.add_argument("--api-key", default=None, help="require this bearer token ('*': any)")
    parser.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="fault probability seed")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def config_from_options(options: Mapping[str, Any]) -> SimulatorConfig:
    """A :class:`SimulatorConfig` from parsed :func:`add_arguments` options (a dict or
    ``vars(namespace)``); raises ValueError on a bad ``--fault``/``--profile``."""
    faults = dict(parse_fault(f) for f in options.get("fault") or ())
    profiles: dict[str, ModelProfile | dict[str, Any]] = dict(
        parse_profile(p) for p in options.get("profile") or ()
    )
    models = options.get("models")
    return SimulatorConfig(
        host=options["host"],
        port=options["port"],
        models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
        api_key=options.get("api_key"),
        ttft_ms=options["ttft_ms"],
        tokens_per_s=options["tokens_per_s"],
        reply_tokens=options["reply_tokens"],
        context_window=options.get("context_window"),
        profiles=profiles,
        faults=dict(faults),
        rules=options.get("rules"),
        embedding_dim=options["embedding_dim"],
        seed=options["seed"],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.llmservers.simulator.app",
        description="OpenAI-compatible LLM simulator for tests and load tests.",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    try:
        config = config_from_options(options)
    except ValueError as exc:
        parser.error(str(exc))
    serve(config, log_level=options["log_level"])


if __name__ == "__main__":
    main()


@contextlib.contextmanager
def spawned_simulator(*cli_args: str, startup_timeout: float = 20.0) -> Iterator[str]:
    """Run the simulator as its own process (benchmarks and load tests, where sharing the
    caller's GIL would distort the figures); yields its base URL, ``http://127.0.0.1:PORT/v1``.
    """
    import subprocess
    import sys
    import urllib.request

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    command = [
        sys.executable,
        "-m",
        "devtools.llmservers.simulator.app",
        "--port",
        str(port),
        *cli_args,
    ]
    process = subprocess.Popen(  # noqa: S603 (our own module)
        [*command, "--log-level", "warning"], stdout=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the LLM simulator process did not start") from None
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)

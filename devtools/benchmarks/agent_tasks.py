"""The agent's labelled task set (`fixtures/agent_tasks.json`) and its mechanical checks.

A task is one person's sessions, each a list of turns; a turn may say what passes (`expect`),
including which specialist the supervisor must hand it to (`agent`, else the general
assistant). A task may first upload the person's documents (`documents`: name and text), a
session may first wait until the person's memories mention some words (what an earlier
session told the agent). Every turn, seeds included, must end in `done` with a non-empty answer
and no protocol markup; a task passes when every turn and every memory wait passes.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from agents.graph.registry import SPECIALISTS

FIXTURE = Path(__file__).parent / "fixtures" / "agent_tasks.json"

KINDS = (
    "calculator",
    "time_zone",
    "past_messages",
    "memory",
    "chit_chat",
    "unknown_tool",
    "two_step",
    "documents",
    "plan",
)
KNOWN_TOOLS = frozenset(tool.name for module in SPECIALISTS.values() for tool in module.TOOLS)
DEFAULT_AGENT = "general"

# Ways of saying "I can't do that"; a refusal must use one of them.
REFUSAL_PHRASES = (
    "can't",
    "cannot",
    "can not",
    "unable",
    "not able",
    "don't have",
    "do not have",
    "no access",
    "not possible",
    "not capable",
    "isn't something i can",
    "not something i can",
)

# Chat-template and tool-protocol text that must never reach the person.
MARKUP = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
)
RAW_TOOL_CALL = "raw JSON tool call"
_RAW_TOOL_CALL = re.compile(
    r'\{\s*"name"\s*:\s*"[^"]+"\s*,\s*"(?:arguments|parameters)"\s*:'
    r'|\{\s*"(?:arguments|parameters)"\s*:\s*\{[^{}]*\}\s*,\s*"name"\s*:'
)
_DIGIT_GROUP = re.compile(r"(?<=\d)[,\u00a0\u202f](?=\d{3}(?!\d))")


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    arguments: dict = field(default_factory=dict)  # a subset the call's arguments must hold


@dataclass(frozen=True)
class Expectation:
    contains: tuple[str, ...] = ()  # every one in the answer
    calls: tuple[ExpectedCall, ...] = ()  # each matched by a call of its own
    no_tools: bool = False
    refuses: bool = False  # says it can't, and calls no tool it doesn't have
    agent: str = DEFAULT_AGENT  # the specialist the supervisor hands the turn to


@dataclass(frozen=True)
class Turn:
    content: str
    expect: Expectation | None = None  # None: a seed, checked for the protocol only


@dataclass(frozen=True)
class Session:
    turns: tuple[Turn, ...]
    wait_for_memory: tuple[str, ...] = ()  # words the memories must mention before it starts


@dataclass(frozen=True)
class Document:
    name: str
    text: str


@dataclass(frozen=True)
class AgentTask:
    id: str
    kind: str
    sessions: tuple[Session, ...]
    documents: tuple[Document, ...] = ()  # uploaded (and ready) before the first session


@dataclass
class TurnRecord:
    """What the stream of one turn showed its client."""

    content: str
    session: int
    index: int  # 0: the session's first turn
    answer: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # each `agent` event's name, in order
    errors: list[dict] = field(default_factory=list)
    done: bool = False
    ttft: float | None = None  # seconds from sending to the first token
    seconds: float = 0.0
    completion_tokens: int = 0
    decode_seconds: float | None = None  # from the first token to `done`

    @property
    def leaks(self) -> Counter:
        return markup_leaks(self.answer)


def _strict(raw: dict, allowed: set[str], where: str) -> dict:
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return raw


def _expectation(raw: dict, where: str) -> Expectation:
    _strict(raw, {"contains", "calls", "no_tools", "refuses", "agent"}, where)
    calls = []
    for call in raw.get("calls", []):
        _strict(call, {"name", "arguments"}, where)
        calls.append(ExpectedCall(call["name"], dict(call.get("arguments", {}))))
    unknown = {call.name for call in calls} - KNOWN_TOOLS
    if unknown:
        raise ValueError(f"{where}: expects calls of unknown tools {sorted(unknown)}")
    expectation = Expectation(
        contains=tuple(raw.get("contains", [])),
        calls=tuple(calls),
        no_tools=bool(raw.get("no_tools", False)),
        refuses=bool(raw.get("refuses", False)),
        agent=raw.get("agent", DEFAULT_AGENT),
    )
    if expectation.agent not in SPECIALISTS:
        raise ValueError(f"{where}: expects the unknown agent {expectation.agent!r}")
    if expectation == Expectation():
        raise ValueError(f"{where}: an expectation that checks nothing")
    if expectation.no_tools and expectation.calls:
        raise ValueError(f"{where}: expects calls and no tools")
    return expectation


def _task(raw: dict) -> AgentTask:
    where = f"task {raw.get('id')!r}"
    _strict(raw, {"id", "kind", "sessions", "documents"}, where)
    if raw["kind"] not in KINDS:
        raise ValueError(f"{where}: unknown kind {raw['kind']!r}")
    sessions = []
    for raw_session in raw["sessions"]:
        _strict(raw_session, {"turns", "wait_for_memory"}, where)
        turns = []
        for raw_turn in raw_session["turns"]:
            _strict(raw_turn, {"content", "expect"}, where)
            if not raw_turn["content"].strip():
                raise ValueError(f"{where}: an empty turn")
            expect = raw_turn.get("expect")
            if expect is not None:
                expect = _expectation(expect, where)
            turns.append(Turn(raw_turn["content"], expect))
        if not turns:
            raise ValueError(f"{where}: a session without turns")
        sessions.append(Session(tuple(turns), tuple(raw_session.get("wait_for_memory", []))))
    if not any(turn.expect for session in sessions for turn in session.turns):
        raise ValueError(f"{where}: no turn says what passes")
    documents = []
    for raw_document in raw.get("documents", []):
        _strict(raw_document, {"name", "text"}, where)
        documents.append(Document(raw_document["name"], raw_document["text"]))
    return AgentTask(raw["id"], raw["kind"], tuple(sessions), tuple(documents))


def load_tasks(path: Path = FIXTURE) -> list[AgentTask]:
    """The task set, validated: known kinds, keys and tools, unique ids, something checked."""
    tasks = [_task(raw) for raw in json.loads(path.read_text())]
    repeated = [name for name, count in Counter(task.id for task in tasks).items() if count > 1]
    if repeated:
        raise ValueError(f"task ids used twice: {repeated}")
    return tasks


def select(
    tasks: list[AgentTask], kinds: list[str] | None = None, limit: int | None = None
) -> list[AgentTask]:
    """The tasks of `kinds` (all by default), taken in turn from each kind, the first `limit`:
    a short run still covers every kind."""
    unknown = set(kinds or ()) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    by_kind = [[task for task in tasks if task.kind == kind] for kind in kinds or KINDS]
    interleaved = [task for row in _zip_longest(by_kind) for task in row]
    return interleaved[:limit] if limit else interleaved


def _zip_longest(groups: list[list]) -> list[list]:
    depth = max((len(group) for group in groups), default=0)
    return [[group[i] for group in groups if i < len(group)] for i in range(depth)]


def markup_leaks(text: str) -> Counter:
    """Each kind of protocol markup in an answer, with how often it occurs."""
    found = Counter({marker: text.count(marker) for marker in MARKUP if marker in text})
    raw_calls = len(_RAW_TOOL_CALL.findall(text))
    if raw_calls:
        found[RAW_TOOL_CALL] = raw_calls
    return found


def _mentions(answer: str, wanted: str) -> bool:
    """Case-insensitive; a number must stand alone ("391" is not in "3910"), digit groups and
    a ".0" are allowed ("1,024", "12.0")."""
    text = _DIGIT_GROUP.sub("", answer)
    if re.fullmatch(r"\d+", wanted):
        return re.search(rf"(?<![\d.]){wanted}(?:\.0+)?(?!\.?\d)", text) is not None
    return wanted.lower() in text.lower()


def _call_matches(expected: ExpectedCall, call: dict) -> bool:
    if call["name"] != expected.name:
        return False
    arguments = call.get("arguments") or {}
    return all(
        str(arguments.get(key, "")).strip().lower() == str(value).lower()
        for key, value in expected.arguments.items()
    )


def _missing_calls(expected: tuple[ExpectedCall, ...], calls: list[dict]) -> list[ExpectedCall]:
    unused = list(calls)
    missing = []
    for wanted in expected:
        match = next((call for call in unused if _call_matches(wanted, call)), None)
        if match is None:
            missing.append(wanted)
        else:
            unused.remove(match)
    return missing


def _describe_call(call: ExpectedCall) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
    return f"{call.name}({arguments})"


def check_turn(turn: Turn, record: TurnRecord) -> list[str]:
    """Why the turn failed; an empty list when it passed."""
    failures = [
        f"error event {error.get('code')}: {error.get('detail')}" for error in record.errors
    ]
    if not record.done and not record.errors:
        failures.append("the stream ended without done")
    if not record.answer.strip():
        failures.append("empty answer")
    failures += [f"markup leak {marker!r} x{count}" for marker, count in record.leaks.items()]
    expect = turn.expect
    if expect is None:
        return failures
    if not routed_right(turn, record):
        failures.append(f"handed to {record.agents[:1]} instead of {expect.agent!r}")
    lacking = [wanted for wanted in expect.contains if not _mentions(record.answer, wanted)]
    failures += [f"answer lacks {wanted!r}" for wanted in lacking]
    missing = _missing_calls(expect.calls, record.tool_calls)
    failures += [f"no call {_describe_call(call)}" for call in missing]
    called = [call["name"] for call in record.tool_calls]
    if expect.no_tools and called:
        failures.append(f"called tools {called} where none was needed")
    if expect.refuses:
        unknown = [name for name in called if name not in KNOWN_TOOLS]
        if unknown:
            failures.append(f"called unknown tools {unknown}")
        said = record.answer.lower().replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")
        if not any(phrase in said for phrase in REFUSAL_PHRASES):
            failures.append("does not say it can't")
    return failures


def routed_right(turn: Turn, record: TurnRecord) -> bool:
    """The supervisor handed the turn to the specialist it expects (the first agent event)."""
    return turn.expect is not None and record.agents[:1] == [turn.expect.agent]


def memory_lists(memories: list[str], words: tuple[str, ...]) -> bool:
    """Every word is in one of the memories (case-insensitive)."""
    texts = [memory.lower() for memory in memories]
    return all(any(word.lower() in text for text in texts) for word in words)

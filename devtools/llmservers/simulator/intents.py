"""Tool intents: the asks the simulator recognises in a message (:data:`INTENTS`: arithmetic,
the time in time zones, a search for the message's words), and the arguments it makes for a
tool call. Which tool answers an intent is for the rules to say (an intent rule,
:mod:`~devtools.llmservers.simulator.rules`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from devtools.llmservers.protocol import JSON

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


def fit_arguments(spec: JSON, args: dict[str, Any]) -> dict[str, Any]:
    """Rename our single argument to the tool's only parameter if their names differ."""
    props = _properties(spec)
    if len(args) == 1 and len(props) == 1:
        (key, value), (prop,) = next(iter(args.items())), props
        if key != prop:
            return {prop: value}
    return args


def synthesize_arguments(spec: JSON, user_text: str) -> dict[str, Any]:
    """Arguments for a forced call of a tool no intent rule knows: its required properties,
    each the first enum value, a zero value of its type, or else the user text."""
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


def find_time_asks(text: str) -> list[tuple[int, str | None]]:
    """Asks for the time or date in ``text``: a zone for each zone named, or one ask without a
    zone (``None``) when none is."""
    m = _TIME_INTENT_RE.search(text)
    if not m:
        return []
    return list(find_timezones(text)) or [(m.start(), None)]


def find_search(text: str) -> list[tuple[int, str]]:
    """A search for the message's own words: every non-empty message asks one."""
    words = " ".join(text.split())
    return [(0, words)] if words else []


@dataclass(frozen=True)
class Intent:
    """A kind of ask: ``asks`` finds the asks in a message, by position (a ``None`` value: asked
    with no value named); ``values`` finds the values a forced call can take from any text."""

    asks: Callable[[str], list[tuple[int, str | None]]]
    values: Callable[[str], list[tuple[int, str]]]


INTENTS = {
    # "what is 2+3*4", "calculate 7 times 6" -> "2+3*4", "7 * 6"
    "arithmetic": Intent(asks=find_arithmetic, values=find_arithmetic),
    # "what time is it in Tokyo?" -> "Asia/Tokyo"; "what's the date?" -> no value
    "time": Intent(asks=find_time_asks, values=find_timezones),
    # "what does my contract say about notice?" -> that text, as the query
    "search": Intent(asks=find_search, values=find_search),
}

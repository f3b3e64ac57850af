"""Rules: what a rule may say (the package docstring, "Rules"), and how rules are read and
checked (:func:`load_rules` raises ValueError on anything it does not understand)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.llmservers.protocol import JSON
from devtools.llmservers.simulator.intents import INTENTS

Call = tuple[str, dict[str, Any]]  # a tool call: name, arguments
RuleSource = list[Mapping[str, Any]] | Mapping[str, Any] | str | Path

_FLAGS = re.IGNORECASE | re.DOTALL
_KEYS = {  # a rule's kind (the one of these keys it has) -> the keys it may have
    "reply": {"reply", "match", "system", "model"},
    "tool_calls": {"tool_calls", "match", "system", "model"},
    "intent": {"intent", "tool", "argument", "default", "model"},
}


@dataclass
class Rule:
    """A reply or tool-call rule: it applies when ``match`` is found in the last user message
    and ``system`` in the system prompt (either may be absent, not both)."""

    source: JSON
    pattern: re.Pattern[str] | None
    system: re.Pattern[str] | None
    model: str | None
    reply: str | None = None
    tool_calls: list[Call] = field(default_factory=list)

    def applies(self, model: str, user_text: str, system_text: str) -> bool:
        return (
            (self.model is None or self.model == model)
            and (self.pattern is None or self.pattern.search(user_text) is not None)
            and (self.system is None or self.system.search(system_text) is not None)
        )


@dataclass
class IntentRule:
    """An intent rule: each ask of ``intent`` in a message calls ``tool`` with the asked value
    as ``argument`` (``default`` when the ask names none)."""

    source: JSON
    intent: str
    tool: str
    argument: str
    default: str | float | None = None
    model: str | None = None

    def asks(self, text: str) -> list[tuple[int, dict[str, Any]]]:
        """The calls ``text`` asks for, by position; no arguments for an ask without a value
        when there is no default."""
        calls = []
        for pos, value in INTENTS[self.intent].asks(text):
            value = self.default if value is None else value
            calls.append((pos, {} if value is None else {self.argument: value}))
        return calls

    def forced_arguments(self, text: str) -> dict[str, Any]:
        """A forced call's arguments: the first value named in ``text``, else the default, else
        the text itself."""
        values = INTENTS[self.intent].values(text)
        if values:
            return {self.argument: values[0][1]}
        return {self.argument: text if self.default is None else self.default}


def load_rules(source: RuleSource | None) -> list[Rule | IntentRule]:
    """Rules from a list, ``{"rules": [...]}``, or the path of a JSON file of either. Raises
    ValueError naming the first bad rule."""
    if source is None:
        return []
    if isinstance(source, (str, Path)):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    if isinstance(source, Mapping):
        source = source.get("rules")
    if not isinstance(source, list):
        raise ValueError("rules must be a list of rule objects, or {'rules': [...]}")
    return [_rule(i, raw) for i, raw in enumerate(source)]


def _rule(i: int, raw: Any) -> Rule | IntentRule:
    if not isinstance(raw, Mapping):
        raise ValueError(f"rule {i}: a rule is a JSON object")
    kinds = [kind for kind in _KEYS if kind in raw]
    if len(kinds) != 1:
        raise ValueError(f"rule {i}: give exactly one of 'reply', 'tool_calls' and 'intent'")
    kind = kinds[0]
    unknown = set(raw) - _KEYS[kind]
    if unknown:
        raise ValueError(f"rule {i}: unknown keys {sorted(unknown)} for a {kind!r} rule")
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"rule {i}: 'model' must be a model name")
    if kind == "intent":
        return _intent_rule(i, raw, model)
    if "match" not in raw and "system" not in raw:
        raise ValueError(f"rule {i}: needs a 'match' or a 'system' regex")
    pattern, system = _regex(i, raw, "match"), _regex(i, raw, "system")
    if kind == "reply":
        if not isinstance(raw["reply"], str):
            raise ValueError(f"rule {i}: 'reply' must be a string")
        return Rule(dict(raw), pattern, system, model, reply=raw["reply"])
    return Rule(dict(raw), pattern, system, model, tool_calls=_tool_calls(i, raw["tool_calls"]))


def _regex(i: int, raw: Mapping[str, Any], key: str) -> re.Pattern[str] | None:
    if key not in raw:
        return None
    if not isinstance(raw[key], str):
        raise ValueError(f"rule {i}: {key!r} must be a regex string")
    try:
        return re.compile(raw[key], _FLAGS)
    except re.error as exc:
        raise ValueError(f"rule {i}: bad {key!r} regex: {exc}") from None


def _tool_calls(i: int, calls: Any) -> list[Call]:
    if not isinstance(calls, list) or not calls:
        raise ValueError(f"rule {i}: 'tool_calls' must be a non-empty list")
    parsed = []
    for call in calls:
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ValueError(f"rule {i}: each tool call needs a 'name'")
        if set(call) - {"name", "arguments"}:
            raise ValueError(f"rule {i}: a tool call has a 'name' and 'arguments', nothing else")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ValueError(f"rule {i}: tool call 'arguments' must be an object")
        parsed.append((call["name"], dict(arguments)))
    return parsed


def _intent_rule(i: int, raw: Mapping[str, Any], model: str | None) -> IntentRule:
    if raw["intent"] not in INTENTS:
        raise ValueError(f"rule {i}: unknown intent {raw['intent']!r}; one of {sorted(INTENTS)}")
    for key in ("tool", "argument"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"rule {i}: an intent rule's {key!r} must be a name")
    default = raw.get("default")
    scalar = isinstance(default, str | int | float) and not isinstance(default, bool)
    if default is not None and not scalar:
        raise ValueError(f"rule {i}: 'default' must be a string or a number")
    return IntentRule(dict(raw), raw["intent"], raw["tool"], raw["argument"], default, model)

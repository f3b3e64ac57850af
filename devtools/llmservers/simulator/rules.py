"""Scripted rules: what a rule may say and how a rule file is read and checked."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.llmservers.protocol import JSON


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

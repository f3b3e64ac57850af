"""Planning a reply: what one chat request answers, text or tool calls, in token pieces (the
package docstring, "Replies")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import JSON, ChatRequest, ToolCall
from devtools.llmservers.simulator.intents import fit_arguments, synthesize_arguments
from devtools.llmservers.simulator.rules import Call, IntentRule, Rule
from devtools.llmservers.simulator.tokens import echo_reply, split_pieces


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


def _forced_arguments(
    intent_rules: list[IntentRule], name: str, spec: JSON, user_text: str
) -> dict[str, Any]:
    """A forced call's arguments: from the tool's intent rule, else from its JSON schema."""
    for rule in intent_rules:
        if rule.tool == name:
            return fit_arguments(spec, rule.forced_arguments(user_text))
    return synthesize_arguments(spec, user_text)


def plan_reply(req: ChatRequest, rules: Sequence[Rule | IntentRule], reply_tokens: int) -> Plan:
    """The deterministic reply to ``req`` (the package docstring, "Replies")."""
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

    def tool_plan(calls: list[Call]) -> Plan:
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

    def new_calls(calls: list[Call]) -> list[Call]:
        return [
            (n, a) for n, a in calls if n in allowed and proto.tool_call_key(n, a) not in results
        ]

    text: str | None = None
    for rule in rules:
        if not isinstance(rule, Rule) or not rule.applies(req.model, user_text, system_text):
            continue
        if rule.reply is not None:
            text = rule.reply
            break
        calls = new_calls(rule.tool_calls)
        if calls:
            return tool_plan(calls)

    if text is None:
        intent_rules = [
            r
            for r in rules
            if isinstance(r, IntentRule) and r.tool in offered and r.model in (None, req.model)
        ]
        intents = [
            (pos, r.tool, fit_arguments(offered[r.tool], args))
            for r in intent_rules
            for pos, args in r.asks(user_text)
        ]
        intents.sort(key=lambda x: x[0])
        asked = [(n, a) for _, n, a in intents]
        calls = new_calls(asked)
        if not calls and not recent and req.tool_choice in ("required", "named"):
            name = req.tool_choice_name or next(iter(offered))
            args = _forced_arguments(intent_rules, name, offered[name], user_text)
            calls = new_calls([(name, args)])
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

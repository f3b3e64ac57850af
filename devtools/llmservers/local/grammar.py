"""llama.cpp grammars (GBNF) for what must parse: ``response_format`` JSON and tool calls.

A tool call is generated under :func:`tool_call_grammar`: the call object exactly as the Qwen
template writes it, ``{"name": "<an offered tool>", "arguments": <that tool's parameters>}``, the
arguments following the tool's own JSON schema (llama-cpp-python's schema converter). The grammar
starts after the text already put in the model's mouth (a prefill such as ``{"name": "``), so the
call that comes out always parses, names an offered tool and has schema-valid arguments. A schema
the converter cannot read is a 400 ``invalid_request_error``, raised before the model is taken.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import JSON

__all__ = ["call_head", "response_format_grammar", "tool_call_grammar"]


def call_head(name: str) -> str:
    """The text of a call to ``name`` up to its arguments."""
    return f'{{"name": {json.dumps(name)}, "arguments": '


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON's escapes are GBNF's


def _converter():
    from llama_cpp.llama_grammar import SchemaConverter

    return SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _visit(converter, schema: object, rule: str, param: str) -> str:
    """Add the rules of ``schema`` to ``converter``; the name of its rule. 400 when unreadable."""
    if not isinstance(schema, dict):
        raise proto.invalid_request("A JSON schema must be an object.", param)
    try:
        return converter.visit(converter.resolve_refs(schema, rule), rule)
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError, RecursionError) as exc:
        raise proto.invalid_request(f"Invalid JSON schema: {exc}", param) from None


def response_format_grammar(response_format: JSON | None) -> str | None:
    """The grammar of a ``json_object`` / ``json_schema`` response format (None for text)."""
    kind = (response_format or {}).get("type")
    if kind not in ("json_object", "json_schema"):
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")  # type: ignore[union-attr]
    if kind == "json_object" or schema is None:
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF
    converter = _converter()
    _visit(converter, schema, "", "response_format")
    return converter.format_grammar()


def _calls(converter, tools: Iterable[JSON], written: str, prefix: str) -> str:
    """The alternatives of one call to one of ``tools`` after ``written``, as a GBNF body."""
    alternatives = []
    for index, tool in enumerate(tools):
        fn = tool["function"]
        parameters = fn.get("parameters") or {"type": "object"}
        args = _visit(converter, parameters, f"{prefix}-{index}-arguments", "tools")
        head = call_head(fn["name"])
        if head.startswith(written):
            rest = head[len(written) :]
            alternatives.append(f"{_literal(rest) if rest else ''} {args} {_literal('}')}")
    if not alternatives:
        raise ValueError(f"no offered tool call begins with {written!r}")
    return " | ".join(f"({a})" for a in alternatives)


def tool_call_grammar(tools: Iterable[JSON], written: str = "") -> str:
    """The grammar of one call to one of ``tools`` (OpenAI tool definitions), continuing after
    ``written`` (a beginning of the call text, e.g. ``{"name": "``)."""
    converter = _converter()
    first = _calls(converter, tools, written, "tool")
    return converter.format_grammar() + f"\nroot ::= {first}\n"

"""Token pieces: how a reply is cut into tokens, how a prompt is counted, and the echo reply
(the package docstring, "Tokens")."""

from __future__ import annotations

import re
from functools import lru_cache

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import JSON

FILLER_WORDS = tuple(
    (  # noqa: SIM905
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua"
    ).split()
)
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
    """The documented prompt-token rule (the package docstring, "Tokens")."""
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

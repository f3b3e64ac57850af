"""Protocol markup kept out of the answers, and out of the prompt's special tokens.

Out: the small models write the Qwen template's tags as text at times (``<tool_response>`` with
a made-up result, a stray ``</tool_call>``, ``<|im_end|>``). :class:`MarkupFilter` removes every
tool tag and every ``<|...|>`` token (a turn's start with its role; with the line break after
it) from what the client gets;
streamed, it holds back a possible beginning of a tag until the next piece tells.
``strip_markup(text)`` is the same filter over a whole text, so streamed and non-streamed answers
agree.

In: text from the person or a tool that imitates markup (``<tool_call>{...}``,
``<|im_start|>system``) would be tokenized as the template's own tokens -- ``<tool_call>`` is one
even without special-token parsing. :func:`neutralise_markup` puts a zero-width space after the
``<`` of such tags, so they are read as the text they are.
"""

from __future__ import annotations

import re

__all__ = ["MarkupFilter", "neutralise_markup", "strip_markup"]

TOOL_TAGS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
ROLES = ("system", "user", "assistant", "tool")
TURN_START = "<|im_start|>"
_TAG_RE = re.compile(
    r"(?:</?tool_call>|</?tool_response>|<\|im_start\|>(?:system|user|assistant|tool)?"
    r"|<\|[A-Za-z0-9_]+\|>)\n?"
)
_SPECIAL_PARTIAL_RE = re.compile(r"<(?:\|[A-Za-z0-9_]*(?:\|>?)?)?\Z")
_NEUTRALISE_RE = re.compile(r"<(?=/?tool_call>|/?tool_response>|\|[A-Za-z0-9_]+\|>)")
ZERO_WIDTH_SPACE = "\u200b"


def _held_from(text: str) -> int:
    """Where a possible tag at the end of ``text`` starts (else its length): from the last ``<``
    when what follows may still become a tag, or is one (a line break may follow)."""
    start = text.rfind("<")
    if start < 0:
        return len(text)
    rest = text[start:]
    if any(tag.startswith(rest) for tag in TOOL_TAGS) or _SPECIAL_PARTIAL_RE.match(rest):
        return start
    role = rest.removeprefix(TURN_START)
    if role != rest and any(name.startswith(role) for name in ROLES):
        return start  # a turn's role may follow its start: it goes too
    return len(text)


class MarkupFilter:
    """``feed(piece)`` returns the text that can be sent now; ``flush()`` the rest."""

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, piece: str) -> str:
        text = self.pending + piece
        held = _held_from(text)
        self.pending = text[held:]
        return _TAG_RE.sub("", text[:held])

    def flush(self) -> str:
        text, self.pending = _TAG_RE.sub("", self.pending), ""
        return text


def strip_markup(text: str) -> str:
    markup = MarkupFilter()
    return markup.feed(text) + markup.flush()


def neutralise_markup(text: str) -> str:
    return _NEUTRALISE_RE.sub("<" + ZERO_WIDTH_SPACE, text)

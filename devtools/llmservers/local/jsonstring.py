"""The text of a JSON string while its characters are generated: ``auto``'s words are written as
the string argument of a call (:mod:`.turn`), and the person is sent the text, not the JSON."""

from __future__ import annotations

import json

__all__ = ["JsonStringStream"]


class JsonStringStream:
    """Feed the pieces that follow a string's opening quote; :meth:`feed` returns the text they
    complete: escapes decoded, one cut between two pieces held back until it is whole, nothing
    from the closing quote on."""

    def __init__(self) -> None:
        self.pending = ""
        self.closed = False

    def feed(self, piece: str) -> str:
        if self.closed:
            return ""
        text, out, i = self.pending + piece, [], 0
        while i < len(text):
            char = text[i]
            if char == '"':
                self.closed = True
                i = len(text)
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            size = _escape_size(text, i)
            if size is None:  # cut: wait for the rest
                break
            out.append(json.loads(f'"{text[i : i + size]}"'))
            i += size
        self.pending = text[i:]
        return "".join(out)


def _escape_size(text: str, start: int) -> int | None:
    """The length of the escape at ``text[start]`` (a backslash), or None when it is not whole
    yet: ``\\n`` is 2, ``\\u00e9`` 6, a surrogate pair ``\\ud83d\\ude00`` 12."""
    if start + 1 >= len(text):
        return None
    if text[start + 1] != "u":
        return 2
    if start + 6 > len(text):
        return None
    if not 0xD800 <= int(text[start + 2 : start + 6], 16) < 0xDC00:
        return 6
    return 12 if start + 12 <= len(text) else None

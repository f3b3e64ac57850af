"""Sanitization for every free-text input: one place, one set of rules.

What goes in storage is what the person typed, minus the things no person means to type:
control characters, Trojan Source bidi controls, invisible padding, hidden tag characters.
HTML is deliberately left alone: it is escaped at render time, so storage stays faithful.

Callers choose ``max_length``; settings-driven defaults live with the callers.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from rest_framework import serializers

__all__ = ["CleanCharField", "SanitizationError", "clean_text"]

# Hangul fillers and the braille blank render as nothing but are not category Cf.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ/ZWJ: needed by emoji, Indic and Persian text.
_TAGS = range(0xE0000, 0xE0080)  # Unicode tag block: emoji flag spellings, or hidden ASCII.

# Removed outright. C0/C1 controls except \t and \n (\r is turned into \n before this),
# bidi embeddings/overrides/isolates (Trojan Source), lone surrogates (unencodable).
_REMOVE = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A)]
    + list(range(0x7F, 0xA0))
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
    + list(range(0xD800, 0xE000))
)
# The Unicode line and paragraph separators are newlines by another name.
_REMOVE.update({0x2028: "\n", 0x2029: "\n"})

_NEWLINES_AND_TABS = re.compile(r"[\n\t]+")
# An emoji subdivision flag (black flag, tag letters/digits, cancel tag), or any other tag.
_FLAG_OR_TAG = re.compile(
    "(\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,7}\U000e007f)"
    "|[\U000e0000-\U000e007f]"
)

# More invisible characters than this, making up more than this share of the text, is a flood.
FLOOD_COUNT = 16
FLOOD_RATIO = 0.3
# NFC can shrink decomposed text about 3x and CRLF 2x; past this we refuse before doing work.
_RAW_LENGTH_FACTOR = 4
_RAW_LENGTH_SLACK = 1024


class SanitizationError(ValueError):
    """Input that cannot be stored; ``code`` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _is_invisible(ch: str) -> bool:
    return ch in _INVISIBLE_EXTRA or unicodedata.category(ch) == "Cf"


def _is_visible(ch: str) -> bool:
    return not ch.isspace() and not _is_invisible(ch)


@functools.cache
def visible_character_pattern() -> str:
    """A regex (searched, not anchored) that matches text keeping at least one visible
    character after cleaning: what a field that may not be blank requires. For the API schema;
    built once from the same rules as ``clean_text``. Basic Multilingual Plane only (JSON
    Schema's ECMAScript regexes spell no other plane as a range): text made only of invisible
    characters beyond it (tag characters, musical formatting) matches, yet is refused as blank.
    Surrogates are left out too (no generator can use them; JSON text carries none alone)."""
    junk = [
        code
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF and (code in _REMOVE or not _is_visible(chr(code)))
    ]
    ranges, start = [], junk[0]
    for previous, code in zip(junk, [*junk[1:], None], strict=True):
        if code != previous + 1:
            ranges.append((start, previous))
            start = code
    spelt = "".join(
        _in_class(low) if low == high else f"{_in_class(low)}-{_in_class(high)}"
        for low, high in ranges
    )
    return f"[^{spelt}]"


def _in_class(code: int) -> str:
    """One character of the class as \\uXXXX: Python's and ECMAScript's regexes both read it."""
    return f"\\u{code:04x}"


def _drop_stray_tags(text: str) -> str:
    """Keep tag characters only inside emoji flags; elsewhere they smuggle hidden ASCII
    (text that models read but people cannot see)."""
    return _FLAG_OR_TAG.sub(lambda match: match.group(1) or "", text)


def _strip_edges(text: str) -> str:
    """Strip whitespace and invisible characters at both ends (a leading BOM, a ZWSP
    padding out a name). Tag characters stay: a flag may end the text."""

    def is_junk(ch: str) -> bool:
        return ch.isspace() or (_is_invisible(ch) and ord(ch) not in _TAGS)

    start, end = 0, len(text)
    while start < end and is_junk(text[start]):
        start += 1
    while end > start and is_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def _count_invisible(text: str) -> int:
    """Invisible characters, not counting the ones doing a job: a joiner between two
    visible characters (emoji ZWJ sequences, Persian ZWNJ) and tags inside a flag."""
    count = 0
    for i, ch in enumerate(text):
        if not _is_invisible(ch) or ord(ch) in _TAGS:
            continue
        joining = ch in _JOINERS and 0 < i < len(text) - 1
        if joining and _is_visible(text[i - 1]) and _is_visible(text[i + 1]):
            continue
        count += 1
    return count


def clean_text(value: str, *, max_length: int, min_length: int = 0, multiline: bool = True) -> str:
    """Return ``value`` cleaned for storage, or raise ``SanitizationError``.

    NFC (not NFKC, which would rewrite meaning such as superscripts); controls, bidi
    controls, lone surrogates and stray tag characters removed; CR/CRLF become LF, and
    with ``multiline=False`` each run of newlines/tabs becomes one space. Lengths are
    counted in characters after cleaning. Text that is empty after cleaning raises
    ``blank`` when ``min_length`` > 0 and is returned as "" otherwise.
    """
    if not isinstance(value, str):
        raise TypeError(f"clean_text() expects str, not {type(value).__name__}")
    if len(value) > max_length * _RAW_LENGTH_FACTOR + _RAW_LENGTH_SLACK:
        raise _too_long(max_length)

    text = value.replace("\r\n", "\n").replace("\r", "\n").translate(_REMOVE)
    text = _drop_stray_tags(text)
    if not multiline:
        text = _NEWLINES_AND_TABS.sub(" ", text)
    text = _strip_edges(unicodedata.normalize("NFC", text))

    if not text:
        if min_length > 0:
            raise SanitizationError("blank", "This field may not be blank.")
        return text
    invisible = _count_invisible(text)
    if invisible > FLOOD_COUNT and invisible > FLOOD_RATIO * len(text):
        raise SanitizationError(
            "invisible_flood", "This text contains too many invisible characters."
        )
    if len(text) > max_length:
        raise _too_long(max_length)
    if len(text) < min_length:
        raise SanitizationError(
            "too_short", f"Ensure this field has at least {min_length} characters."
        )
    return text


def _too_long(max_length: int) -> SanitizationError:
    return SanitizationError(
        "too_long", f"Ensure this field has no more than {max_length} characters."
    )


class CleanCharField(serializers.CharField):
    """A CharField that runs ``clean_text`` and rejects non-strings instead of coercing.

    Never use it for passwords: cleaning would silently change the secret (NFC, stripped
    spaces or controls) and the person could no longer log in with what they typed.
    """

    def __init__(self, *, max_length: int, multiline: bool = True, **kwargs) -> None:
        self.multiline = multiline
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > self.max_length:  # as sent: the schema's maxLength, which clients see
            error = _too_long(self.max_length)
            raise serializers.ValidationError(error.message, code=error.code)
        try:
            cleaned = clean_text(
                data,
                max_length=self.max_length,
                min_length=self.min_length or 0,
                multiline=self.multiline,
            )
        except SanitizationError as exc:
            if exc.code == "blank" and self.allow_blank:
                return ""
            raise serializers.ValidationError(exc.message, code=exc.code) from exc
        if not cleaned and not self.allow_blank:
            self.fail("blank")
        return cleaned

    def run_validators(self, value):
        if value != "":  # blank was allowed or refused above; CharField skips "" too
            super().run_validators(value)

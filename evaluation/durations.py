"""Spans of time as people type them: "90s", "15m", "1h", "7d", from 1 unit to 90 days.

The grammar is one regular expression, DURATION_PATTERN, so the API's schema states exactly
what is accepted (a bound like "at most 90d" included, spelt out per unit).
"""

import re
from datetime import timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SPAN = timedelta(days=90)
MAX_DIGITS = 6


def whole_numbers_up_to(limit: int) -> str:
    """A regex of the decimal numbers 1..limit, without leading zeros."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = [
        f"{digits[:i]}[{1 if i == 0 else 0}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if int(d) > (1 if i == 0 else 0)
    ]
    return "(?:" + "|".join([*shorter, *same_length, digits]) + ")"


def _largest(unit: str) -> int:
    return min(int(MAX_SPAN.total_seconds()) // _UNIT_SECONDS[unit], 10**MAX_DIGITS - 1)


DURATION_PATTERN = (
    "^(?:" + "|".join(f"{whole_numbers_up_to(_largest(u))}{u}" for u in _UNIT_SECONDS) + ")$"
)
_DURATION = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """`"1h"` → 1 hour. ValueError says what is accepted."""
    if not _DURATION.match(text or ""):
        raise ValueError(f"{text!r} is not a duration from 1s to 90d, like 30m, 1h or 7d")
    return timedelta(seconds=int(text[:-1]) * _UNIT_SECONDS[text[-1]])

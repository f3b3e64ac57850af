"""Spans of time as people type them: "90s", "15m", "1h", "7d"."""

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SPAN = timedelta(days=90)


def parse_duration(text: str) -> timedelta:
    """`"1h"` → 1 hour. ValueError names what is wrong."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 7d")
    span = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if not timedelta(0) < span <= MAX_SPAN:
        raise ValueError(f"{text!r} must be more than 0 and at most 90d")
    return span

"""One streamed chat turn as the stress test's people saw it, kept one JSON object per line.

The locust process writes these (`people.py`) and the report reads them (`report.py`); the
file is the only thing the two share, so both sides use this one dataclass.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STREAM_NAME = "/api/v1/sessions/{id}/stream"  # the streams' name in locust's statistics


@dataclass
class TurnRecord:
    """Times are seconds since the epoch (`started`) or since `started` (`ttft_s`)."""

    started: float
    http_status: int = 0  # 0: no answer at all (connection refused or dropped)
    ttft_s: float | None = None  # the first `token` event
    gaps_ms: list[float] = field(default_factory=list)  # between consecutive `token` events
    tokens: int = 0
    done_events: int = 0
    error_events: int = 0
    error_code: str = ""  # the `error` event's code, or what broke the stream
    model: str = ""  # the `done` event's model
    fallback_events: int = 0

    @property
    def completed(self) -> bool:
        """Accepted, answered, and ended by exactly one `done` (API.md, "The stream")."""
        return self.http_status == 200 and self.done_events == 1 and self.error_events == 0

    @property
    def error_kind(self) -> str:
        """Why a turn did not complete ("" when it did), short enough to count by."""
        if self.completed:
            return ""
        if self.http_status == 0:
            return f"connection: {self.error_code}" if self.error_code else "connection"
        if self.http_status != 200:
            return f"http {self.http_status}"
        if self.error_events:
            return f"error event: {self.error_code}"
        if self.done_events > 1:
            return "several done events"
        return "stream ended without done"


def append(path: Path, record: TurnRecord) -> None:
    """One line per turn, opened per write: the people run in one process of greenlets."""
    with open(path, "a") as log:
        log.write(json.dumps(asdict(record)) + "\n")


def read(path: Path) -> list[TurnRecord]:
    if not path.exists():
        return []
    return [TurnRecord(**json.loads(line)) for line in path.read_text().splitlines() if line]

"""The partial answer saved while a turn streams: a web process killed mid-turn (kill -9, out
of memory, a lost machine) leaves the answer `interrupted` with the text streamed until about
`STREAM_FLUSH_SECONDS` before it died, instead of an empty row.

A timer, not a write per token: at most one UPDATE per interval, and none when no text arrived
since the last one. A failed write (the database restarting) is logged and tried again at the
next tick; the turn's close writes the final text anyway.
"""

import asyncio
import logging

from django.conf import settings

from agents import services
from agents.run import RunProgress
from agentsite.asyncdb import db_call

logger = logging.getLogger(__name__)


class PartialAnswerFlusher:
    """A timer on the turn's loop (no task of its own while it waits: a turn shorter than the
    interval costs a timer set and cancelled), and a write task when a tick finds new text."""

    def __init__(self, answer_id, progress: RunProgress, interval: float | None = None):
        self.answer_id = answer_id
        self.progress = progress
        self.interval = settings.STREAM_FLUSH_SECONDS if interval is None else interval
        self._timer: asyncio.TimerHandle | None = None
        self._write: asyncio.Task | None = None
        self._saved = 0  # pieces of text already in the row
        self._stopped = False

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    async def stop(self) -> None:
        """No more writes once this returns: a write under way is awaited, not abandoned (its
        thread would otherwise land after the close and put older text back)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._write is not None:
            await asyncio.gather(self._write, return_exceptions=True)

    def _tick(self) -> None:
        if self._stopped:
            return
        if len(self.progress.parts) == self._saved:
            self.start()
        else:
            self._write = asyncio.create_task(self._save())

    async def _save(self) -> None:
        pieces = len(self.progress.parts)
        try:
            await db_call(services.save_partial_answer)(self.answer_id, self.progress.text)
            self._saved = pieces
        except Exception:
            logger.warning("could not save the partial answer; next tick", exc_info=True)
        if not self._stopped:
            self.start()

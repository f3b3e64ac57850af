"""The partial answer saved while a turn streams: a web process killed mid-turn (kill -9, out
of memory, a lost machine) leaves the answer `interrupted` with the text streamed until about
`STREAM_FLUSH_SECONDS` before it died, instead of an empty row.

A timer, not a write per token: at most one UPDATE per interval, and none when no text arrived
since the last one. A failed write (the database restarting) is logged and tried again at the
next tick; the turn's close writes the final text anyway.
"""

import asyncio
import contextlib
import logging

from django.conf import settings

from agents import services
from agents.run import RunProgress
from agentsite.asyncdb import db_call

logger = logging.getLogger(__name__)


class PartialAnswerFlusher:
    def __init__(self, answer_id, progress: RunProgress, interval: float | None = None):
        self.answer_id = answer_id
        self.progress = progress
        self.interval = settings.STREAM_FLUSH_SECONDS if interval is None else interval
        self._stopped = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """No more writes once this returns: a write under way is awaited, not abandoned (its
        thread would otherwise land after the close and put older text back)."""
        self._stopped.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        saved = 0  # pieces of text already in the row
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.interval)
            pieces = len(self.progress.parts)
            if self._stopped.is_set() or pieces == saved:
                continue
            try:
                await db_call(services.save_partial_answer)(self.answer_id, self.progress.text)
                saved = pieces
            except Exception:
                logger.warning("could not save the partial answer; next tick", exc_info=True)

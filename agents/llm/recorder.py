"""Every LLM attempt as an LLMCall row and as metrics, without making the caller wait.

Metrics are updated at once; rows go through a queue to one writer thread per process that
inserts them in batches (at most half a second late), so a slow database never slows a stream
and a busy process pays one INSERT for many calls.
"""

import atexit
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import DatabaseError, IntegrityError, connection

from agents.llm import metrics
from agentsite import context
from agentsite.errors import is_store_outage

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
FLUSH_SECONDS = 0.5
# While the database is away (a restart, a failover), a batch is tried again every second for
# this long before it is given up (logged): an outage must not cost the attempts made in it.
OUTAGE_RETRY_SECONDS = 30.0


@dataclass
class Attempt:
    """What one attempt did; filled in while it runs, then recorded once."""

    ring_request_id: uuid.UUID
    model: str
    endpoint: str
    purpose: str
    attempt: int
    started_at: datetime
    fallback_from: str = ""
    status: str = "ok"
    error_class: str = ""
    error_reason: str = ""
    latency_s: float = 0.0
    ttft_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    ids: dict = field(default_factory=context.current)


class CallRecorder:
    def __init__(self):
        self._queue: queue.Queue[Attempt] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, attempt: Attempt) -> None:
        self._observe(attempt)
        self._ensure_writer()
        self._queue.put(attempt)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every recorded attempt is in the database (tests, shutdown)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        done.wait(timeout)

    @staticmethod
    def _observe(attempt: Attempt) -> None:
        model, purpose = attempt.model, attempt.purpose
        metrics.calls.labels(model, purpose, attempt.status).inc()
        metrics.latency.labels(model, purpose).observe(attempt.latency_s)
        if attempt.ttft_s is not None:
            metrics.time_to_first_token.labels(model, purpose).observe(attempt.ttft_s)
        if attempt.error_reason:
            metrics.failures.labels(model, purpose, attempt.error_reason).inc()
        metrics.tokens.labels(model, "prompt").inc(attempt.prompt_tokens)
        metrics.tokens.labels(model, "completion").inc(attempt.completion_tokens)
        metrics.cost.labels(model).inc(attempt.cost_usd)

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._write_forever, name="llm-calls", daemon=True
                )
                self._thread.start()

    def _write_forever(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                self._write_through_outage(batch)
            except Exception:  # the writer must survive anything; a lost batch is logged
                logger.exception("could not store %d LLM call rows", len(batch))
            finally:
                connection.close()  # back to the pool: a broken one is replaced, none is pinned
                for _ in batch:
                    self._queue.task_done()

    def _next_batch(self) -> list[Attempt]:
        """Wait for one row, then gather more for up to FLUSH_SECONDS: one INSERT for many."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + FLUSH_SECONDS
        while len(batch) < BATCH_SIZE and (left := deadline - time.monotonic()) > 0:
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _write_through_outage(self, batch: list[Attempt]) -> None:
        deadline = time.monotonic() + OUTAGE_RETRY_SECONDS
        while True:
            try:
                return self._write(batch)
            except Exception as exc:
                if not is_store_outage(exc) or time.monotonic() > deadline:
                    raise
                logger.warning("database away: %d LLM call rows kept for later", len(batch))
                connection.close()  # a broken connection goes; the next try takes a new one
                time.sleep(1)

    def _write(self, batch: list[Attempt]) -> None:
        from agents.models import LLMCall

        rows = [self._row(LLMCall, attempt) for attempt in batch]
        try:
            LLMCall.objects.bulk_create(rows)
        except IntegrityError:  # a user deleted meanwhile: keep the rows, drop the link
            for row in rows:
                row.user_id = None
            LLMCall.objects.bulk_create(rows)
        except DatabaseError as exc:
            if is_store_outage(exc):
                raise  # not refused: not reached
            logger.exception("database refused LLM call rows")

    @staticmethod
    def _row(model, attempt: Attempt):
        ids = attempt.ids
        return model(
            created_at=attempt.started_at,
            model=attempt.model,
            endpoint=attempt.endpoint,
            purpose=attempt.purpose,
            attempt=attempt.attempt,
            fallback_from=attempt.fallback_from,
            status=attempt.status,
            error_class=attempt.error_class[:100],
            error_reason=attempt.error_reason,
            latency_ms=round(attempt.latency_s * 1000),
            ttft_ms=None if attempt.ttft_s is None else round(attempt.ttft_s * 1000),
            prompt_tokens=attempt.prompt_tokens,
            completion_tokens=attempt.completion_tokens,
            cost_usd=Decimal(str(round(attempt.cost_usd, 6))),
            request_id=ids.get("request_id") or "",
            ring_request_id=attempt.ring_request_id,
            user_id=_uuid_or_none(ids.get("user_id")),
            session_id=_uuid_or_none(ids.get("session_id")),
        )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


recorder = CallRecorder()
atexit.register(recorder.flush, 5.0)

"""Prometheus metrics of Celery: tasks as workers run them, queue depth as Redis holds it.

Task metrics are counted in the pool process that runs the task (agentsite/celery.py connects
them to Celery's signals; prefork children write into the worker's multiprocess directory, see
agentsite/prometheus.py). Queue depth is read from the broker when the web's /metrics is
scraped.
"""

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# task: a registered task's name; outcome: Celery's final state of the run, lowercased
# ("success", "failure", "retry", "ignored", "rejected").
tasks = Counter("celery_tasks_total", "Task runs by outcome", ["task", "outcome"])
task_duration = Histogram(
    "celery_task_duration_seconds", "Duration of one task run", ["task"], buckets=DURATION_BUCKETS
)

OUTCOMES = ("success", "failure", "retry")

_started_at: dict[str, float] = {}  # task id -> monotonic start, while it runs in this process


def start_clock(task_id=None, **_):
    """task_prerun: the run starts."""
    _started_at[task_id] = time.monotonic()


def count_run(task_id=None, task=None, state=None, **_):
    """task_postrun: the run ended in `state`."""
    started = _started_at.pop(task_id, None)
    if started is not None:
        task_duration.labels(task.name).observe(time.monotonic() - started)
    tasks.labels(task.name, (state or "unknown").lower()).inc()


def initialize(app) -> None:
    """Each of our tasks and outcomes at 0 when the worker is ready: a first failure must show
    in rate() (Celery's own tasks, celery.*, are left out)."""
    for name in app.tasks:
        if not name.startswith("celery."):
            task_duration.labels(name)
            for outcome in OUTCOMES:
                tasks.labels(name, outcome)


class QueueDepthCollector(Collector):
    """`celery_queue_length{queue}`: messages waiting in each queue the app declares (with the
    Redis transport a queue is a list named after it)."""

    def __init__(self, app):
        self.app = app
        self._redis: redis.Redis | None = None

    def _client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=2)
        return self._redis

    def queue_names(self) -> list[str]:
        return sorted({self.app.conf.task_default_queue, *self.app.amqp.queues.keys()})

    def collect(self) -> Iterator[GaugeMetricFamily]:
        names = self.queue_names()
        try:
            pipeline = self._client().pipeline(transaction=False)
            for name in names:
                pipeline.llen(name)
            lengths = pipeline.execute()
        except redis.RedisError:
            logger.warning("queue depth unavailable: the broker did not answer", exc_info=True)
            return
        family = GaugeMetricFamily(
            "celery_queue_length", "Tasks waiting in a Celery queue", labels=["queue"]
        )
        for name, length in zip(names, lengths, strict=True):
            family.add_metric([name], length)
        yield family

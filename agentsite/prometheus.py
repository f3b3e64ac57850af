"""What a process exposes to Prometheus, and the Celery worker's own metrics port.

Two parts: the process's own metrics (counters and histograms the code updates) and the
shared state read at scrape time (breakers and queues in Redis, evaluation progress in the
database). With PROMETHEUS_MULTIPROC_DIR set (several uvicorn workers, Celery's prefork pool)
the process metrics are read from that directory, so one scrape sees all of a host's
processes; the directory must start empty, which compose's tmpfs and `make dev` ensure.
Shared state is exposed by the web's /metrics only: scraping it from every worker too would
report the same numbers many times.
"""

import logging
import os
from functools import lru_cache

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


@lru_cache(maxsize=1)
def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's of the multiprocess directory."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@lru_cache(maxsize=1)
def shared_state_registry() -> CollectorRegistry:
    from agents.llm.metrics import BreakerCollector
    from agentsite.celery import app
    from agentsite.celery_metrics import QueueDepthCollector
    from evaluation.metrics import RunProgressCollector

    registry = CollectorRegistry()
    for collector in (BreakerCollector(), QueueDepthCollector(app), RunProgressCollector()):
        registry.register(collector)
    return registry


def web_exposition() -> bytes:
    """What the web's /metrics answers: its processes' metrics and the shared state."""
    return generate_latest(process_registry()) + generate_latest(shared_state_registry())


def serve_worker_metrics(address: str, port: int) -> None:
    """The worker's metrics port (its pool processes' metrics, from the multiprocess
    directory); a port already taken is logged, never a reason to stop grading."""
    try:
        start_http_server(port, addr=address, registry=process_registry())
    except OSError:
        logger.warning("worker metrics not served: %s:%s is taken", address, port, exc_info=True)
        return
    logger.info("worker metrics on http://%s:%s/metrics", address, port)


def forget_process(pid: int) -> None:
    """A pool process exited: its live gauges must stop counting (multiprocess mode)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)

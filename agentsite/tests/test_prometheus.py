"""A real Prometheus scraping a real server (two uvicorn workers, multiprocess mode) and a
real Celery worker after chat turns, a fallback, a failed turn and an evaluation run: every
dashboard panel's and alert rule's PromQL parses and returns series.

Debian's prometheus (installed by .ci/ensure-prometheus, which `make test` runs) scrapes
every second on 127.0.0.1.
"""

import re
import socket
import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents import services
from agentsite.celery import app as celery_app
from devtools.prometheus import PrometheusServer, ScrapeTarget, alert_rules, panel_queries
from devtools.prometheus.expressions import rule_files
from devtools.prometheus.server import QueryError
from devtools.testing import stream_turn, wait_for
from evaluation import services as evaluation_services
from evaluation.models import EvaluationRun
from evaluation.tests.workers import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

PRIMARY, FALLBACK = "sim-primary", "sim-fallback"
UNBOUNDED = re.compile(r"^/|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(asgi_server, llm, tmp_path):
    """The server, a worker and Prometheus scraping both; each with its own multiprocess dir."""
    web_dir, worker_dir = tmp_path / "metrics-web", tmp_path / "metrics-worker"
    web_dir.mkdir()
    worker_dir.mkdir()
    server = asgi_server(
        env={
            "LLM_BASE_URL": llm.base_url,
            "WEB_CONCURRENCY": "2",  # uvicorn's --workers: two processes behind one /metrics
            "PROMETHEUS_MULTIPROC_DIR": str(web_dir),
        },
        startup_timeout=120,  # two processes importing everything on a shared machine
    )
    celery_app.control.purge()
    worker_port = free_port()
    worker = WorkerProcess(
        "metrics",
        llm.base_url,
        tmp_path / "worker.log",
        "agentsite.settings.test",
        env={"PROMETHEUS_MULTIPROC_DIR": str(worker_dir), "WORKER_METRICS_PORT": str(worker_port)},
    )
    targets = [
        ScrapeTarget("agentsite-web", f"127.0.0.1:{server.port}"),
        ScrapeTarget("agentsite-worker", f"127.0.0.1:{worker_port}"),
    ]
    try:
        with PrometheusServer(targets, tmp_path, rule_files=rule_files()) as prometheus:
            yield server, worker_port, prometheus, (web_dir, worker_dir)
    finally:
        worker.stop()


def chat(server, user, session, content) -> list[str]:
    return [name for name, _ in stream_turn(server, user, session, content)]


def test_every_panel_and_alert_expression_returns_series(stack, llm, user):
    server, worker_port, prometheus, (web_dir, worker_dir) = stack
    started = time.time()
    assert wait_for(lambda: prometheus.scraped_after(started), timeout=30)  # all at 0 first
    session = services.create_session(owner=user)
    assert chat(server, user, session, "hello there")[-1] == "done"

    llm.set_faults(PRIMARY, {"kind": "status_500"})
    assert "fallback" in chat(server, user, session, "and now?")
    switched = time.time()
    assert wait_for(lambda: prometheus.scraped_after(switched), timeout=30)
    # The switch is on the Model ring dashboard at the first scrape after it.
    (fallbacks,) = [q for q in panel_queries() if q.panel == "Fallbacks from -> to"]
    shown = {
        (s["metric"]["from_model"], s["metric"]["to_model"], s["metric"]["purpose"])
        for s in prometheus.query(fallbacks.expr)
        if float(s["value"][1]) > 0
    }
    assert (PRIMARY, FALLBACK, "chat") in shown

    llm.set_faults(FALLBACK, {"kind": "status_500"})
    assert chat(server, user, session, "anyone?")[-1] == "error"
    llm.clear_faults()

    run = evaluation_services.create_and_queue_run(trigger="command", since=timedelta(hours=1))
    assert wait_for(lambda: EvaluationRun.objects.get(pk=run.pk).status == "done", timeout=120)
    assert wait_for(lambda: _drained(), timeout=60)  # titles and memory done too
    finished = time.time()
    assert wait_for(lambda: prometheus.scraped_after(finished + 1), timeout=30)

    empty, refused = [], []
    for query in panel_queries():
        try:
            if not prometheus.query(query.expr):
                empty.append(str(query))
        except QueryError as exc:
            refused.append(f"{query}: {exc}")
    for rule in alert_rules():
        try:
            prometheus.query(rule.expr)  # parses; returns series only while it fires
            if not prometheus.query(rule.signal):
                empty.append(f"alert {rule.name}: {rule.signal}")
        except QueryError as exc:
            refused.append(f"alert {rule.name}: {exc}")
    assert refused == []
    assert empty == []

    # Two uvicorn workers and the worker's pool all wrote their own files.
    assert len(_pids(web_dir)) >= 2
    assert len(_pids(worker_dir)) >= 2
    for url in (f"{server.url}/metrics", f"http://127.0.0.1:{worker_port}/metrics"):
        assert _unbounded_labels(httpx.get(url, timeout=10).text) == []


def _drained() -> bool:
    inspector = celery_app.control.inspect(timeout=1)
    active = inspector.active() or {}
    reserved = inspector.reserved() or {}
    return not any(active.values()) and not any(reserved.values())


def _pids(directory) -> set[str]:
    """prometheus_client's multiprocess files are named <kind>_<pid>.db."""
    return {path.stem.rpartition("_")[2] for path in directory.glob("*.db")}


def _unbounded_labels(exposition: str) -> list[str]:
    """Label values that are raw paths or ids (unbounded series)."""
    return [
        f"{sample.name}{sample.labels}"
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if any(UNBOUNDED.search(value) for value in sample.labels.values())
    ]

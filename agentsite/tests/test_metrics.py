"""What /metrics holds beyond django-prometheus: shared state read at scrape time (queue depth,
breakers, evaluation progress) and Celery task runs."""

from types import SimpleNamespace

import pytest
import redis
from celery import Celery
from django.conf import settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agentsite import celery_metrics
from agentsite.celery_metrics import QueueDepthCollector


@pytest.fixture
def queue():
    """A Celery app of its own whose default queue holds three messages in the test broker."""
    app = Celery("metrics-test", broker=settings.CELERY_BROKER_URL)
    app.conf.task_default_queue = "metrics-test-queue"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.rpush(app.conf.task_default_queue, "a", "b", "c")
    yield app
    client.delete(app.conf.task_default_queue)


def test_queue_depth_is_the_length_of_each_declared_queue(queue):
    (family,) = QueueDepthCollector(queue).collect()
    assert [(s.labels, s.value) for s in family.samples] == [({"queue": "metrics-test-queue"}, 3)]


@pytest.mark.django_db
def test_metrics_holds_the_processes_and_the_shared_state(client):
    exposition = client.get("/metrics").content.decode()
    names = {family.name for family in text_string_to_metric_families(exposition)}
    assert {"llm_breaker_open", "celery_queue_length", "evaluation_run_items"} <= names
    assert {"chat_turns", "llm_calls", "django_http_requests_before_middlewares"} <= names


def test_a_task_run_is_counted_by_task_and_outcome_with_its_duration():
    task = SimpleNamespace(name="memory.tasks.remember_message")

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, {"task": task.name, **labels}) or 0

    before = (
        value("celery_tasks_total", outcome="retry"),
        value("celery_task_duration_seconds_count"),
    )
    celery_metrics.start_clock(task_id="t-1")
    celery_metrics.count_run(task_id="t-1", task=task, state="RETRY")
    after = (
        value("celery_tasks_total", outcome="retry"),
        value("celery_task_duration_seconds_count"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1]

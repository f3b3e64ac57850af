"""Every log line is JSON with request_id and user_id, in requests and in Celery tasks."""

import io
import json
import logging

import pytest
from celery.contrib.testing.worker import start_worker

from agentsite import context
from agentsite.celery import app as celery_app
from agentsite.logging import ContextFilter, JsonFormatter


@celery_app.task(name="agentsite.tests.report_context")
def report_context():
    logging.getLogger("agentsite.tests").info("inside a task")
    return context.current()


@pytest.fixture
def json_log():
    """Collect what the root logger writes, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_lines_are_json_with_ids_and_extras(json_log):
    with context.bound(request_id="r-1", user_id="u-1", session_id="s-1"):
        logging.getLogger("agentsite.demo").warning("hello %s", "world", extra={"tokens": 12})
    (line,) = json_log()
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert (line["request_id"], line["user_id"], line["session_id"]) == ("r-1", "u-1", "s-1")
    assert line["tokens"] == 12


def test_exceptions_are_one_json_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("agentsite.demo").exception("failed")
    (line,) = json_log()
    assert "ValueError: boom" in line["exception"]


@pytest.mark.django_db
def test_request_log_lines_carry_request_and_user(auth_client, user, settings, json_log):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "1/m"}
    auth_client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-log-1")
    auth_client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-log-2")  # 429, logged by Django
    warnings = [line for line in json_log() if line["logger"] == "django.request"]
    assert warnings, "Django logs every 4xx response"
    assert warnings[-1]["request_id"] == "req-log-2"
    assert warnings[-1]["user_id"] == str(user.pk)


@pytest.mark.django_db(transaction=True)
def test_celery_tasks_carry_the_ids_of_the_request_that_queued_them(capfd):
    # The worker re-applies settings.LOGGING, so read what the real console handler prints.
    with start_worker(
        celery_app, pool="solo", loglevel="INFO", perform_ping_check=False, shutdown_timeout=10
    ):
        with context.bound(request_id="req-task-1", user_id="user-7", session_id="sess-3"):
            result = report_context.delay()
        seen = result.get(timeout=20)
    assert seen == {"request_id": "req-task-1", "user_id": "user-7", "session_id": "sess-3"}
    printed = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line[:1] == "{"]
    task_lines = [line for line in printed if line["message"] == "inside a task"]
    assert task_lines[0]["request_id"] == "req-task-1"
    assert task_lines[0]["user_id"] == "user-7"

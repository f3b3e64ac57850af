"""Fixtures shared by every app's tests: the embedded test stack, API clients, users."""

import os
from pathlib import Path

import pytest

from devtools import stack

# Fixtures that put a test in a slow tier: real server or worker processes, the real model.
TIER_OF_FIXTURE = {
    "asgi_server": pytest.mark.processes,
    "celery_worker": pytest.mark.processes,
    "local_llm": pytest.mark.local_model,
}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in TIER_OF_FIXTURE.keys() & set(item.fixturenames):
            item.add_marker(TIER_OF_FIXTURE[fixture])


def pytest_configure(config):
    """Start the embedded Postgres + Valkey on the test ports unless real URLs are given."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        stack.ensure_running("test")


@pytest.fixture(scope="session", autouse=True)
def _close_pools_before_dropping_the_test_database(django_db_setup, django_db_blocker):
    """Pools outlive tests: the agent's checkpoint pool on the side loop, Mem0's, and Django's
    own pool (connections other threads returned). Close them, or Postgres refuses the drop."""
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    from agents.checkpoints import close_loop_agent
    from agentsite.loops import background_loop
    from memory import engine

    with django_db_blocker.unblock():
        background_loop.run(close_loop_agent())
        engine.close()  # Mem0's pool
        background_loop.run(sync_to_async(connections.close_all)())  # the ORM's worker thread
        for connection in connections.all():
            connection.close_pool()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and breaker state live in Redis: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def make(email="ada@example.com", password="correct horse battery staple", **fields):
        return User.objects.create_user(email, password, **fields)

    return make


@pytest.fixture
def indexed(db):
    """`indexed(user, text, name=...)`: the person's document, uploaded then parsed in the
    test's own thread (the parse task's body, without a worker)."""
    from documents import services

    def make(user, text: str | bytes, *, name: str = "notes.txt", title: str = ""):
        data = text.encode() if isinstance(text, str) else text
        document = services.upload_document(user, name=name, data=data, title=title)
        services.parse_document(document.pk)
        document.refresh_from_db()
        return document

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def staff_client(client, make_user):
    """Django's test client, signed in as a staff superuser (admin pages)."""
    client.force_login(make_user(email="staff@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def make_llm_call(db):
    """Factory of LLMCall rows: an OK gpt-4o call now unless fields say otherwise."""
    import uuid
    from datetime import UTC, datetime

    from agents.models import LLMCall

    def make(**fields):
        defaults = {
            "created_at": datetime.now(UTC),
            "model": "gpt-4o",
            "endpoint": "https://api.openai.com/v1",
            "attempt": 1,
            "status": "ok",
            "latency_ms": 120,
            "ring_request_id": uuid.uuid4(),
        }
        return LLMCall.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def auth_client(api_client, user):
    """An API client signed in as `user` with a JWT access token."""
    from rest_framework_simplejwt.tokens import RefreshToken

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return api_client


@pytest.fixture
def fake_langfuse():
    """A local Langfuse recording what the SDK sends (agentsite/tests/fake_langfuse.py)."""
    from agentsite.tests.fake_langfuse import FakeLangfuse

    server = FakeLangfuse()
    yield server
    server.close()


@pytest.fixture
def langfuse_keys(settings, fake_langfuse):
    """Langfuse on, sending to the fake, with keys of our own per test: the SDK keeps one
    client per public key."""
    import uuid

    from agentsite import tracing

    settings.LANGFUSE_PUBLIC_KEY = f"pk-lf-test-{uuid.uuid4().hex[:8]}"
    settings.LANGFUSE_SECRET_KEY = "sk-lf-test-secret"  # noqa: S105
    settings.LANGFUSE_HOST = fake_langfuse.url
    yield settings
    tracing.flush()


class LiveServer:
    """uvicorn serving agentsite.asgi in a subprocess on 127.0.0.1."""

    def __init__(self, environment: dict, log_path, startup_timeout: float = 60):
        import socket
        import subprocess
        import sys

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "uvicorn", "agentsite.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "on"]
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                command, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_live(startup_timeout)

    def _wait_until_live(self, timeout: float):
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ops/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uvicorn did not start: {self.log()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def log(self) -> str:
        return Path(self.log_path).read_text()


@pytest.fixture
def asgi_server(tmp_path):
    """A factory of live servers: `asgi_server(env={...})` returns a started LiveServer.

    Servers use the test settings, the test database (so tests that write data for them need
    `transaction=True`) and the test Valkey, unless `env` overrides them.
    """
    from django.conf import settings
    from django.db import connections

    from agentsite import pg

    servers = []

    def start(env: dict | None = None, startup_timeout: float = 60) -> LiveServer:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "agentsite.settings.test",
            # The test database while tests run.
            "DATABASE_URL": pg.url(connections["default"].settings_dict),
            "REDIS_URL": settings.REDIS_URL,
            **(env or {}),
        }
        log_path = tmp_path / f"uvicorn-{len(servers)}.log"
        server = LiveServer(environment, log_path, startup_timeout)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def simulator():
    """The LLM simulator with agentsite's rules (its tools, the judges' verdict): instant answers
    of 8 token pieces; tests add latency, faults or rules of their own."""
    from agents.tests import SIMULATOR_RULES
    from devtools.llmservers.simulator import SimulatorConfig, running_simulator

    config = SimulatorConfig(ttft_ms=0, tokens_per_s=0, reply_tokens=8, base_rules=SIMULATOR_RULES)
    with running_simulator(config) as sim:
        yield sim


@pytest.fixture
def llm(simulator, settings):
    """Point the ring at the simulator (sim-primary, then sim-fallback) with clean faults."""
    from agents.llm.recorder import recorder

    simulator.reset()
    simulator.clear_faults()
    settings.LLM_BASE_URL = simulator.base_url
    yield simulator
    simulator.clear_faults()
    recorder.flush()  # LLMCall rows are written while this test may still use the database

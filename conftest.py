"""Fixtures shared by every app's tests: the embedded test stack, API clients, users."""

import os

import pytest

from agentsite import embedded


def pytest_configure(config):
    """Start the embedded Postgres + Valkey on the test ports unless real URLs are given."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        embedded.ensure_running("test")


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
def user(make_user):
    return make_user()


@pytest.fixture
def auth_client(api_client, user):
    """An API client signed in as `user` with a JWT access token."""
    from rest_framework_simplejwt.tokens import RefreshToken

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return api_client


@pytest.fixture
def asgi_server(tmp_path):
    """Start the real ASGI app under uvicorn in a subprocess on 127.0.0.1; yields a factory.

    `asgi_server(env={...})` returns the base URL once /ops/health/live answers. The server
    gets the test settings and the same stack unless `env` overrides them.
    """
    import socket
    import subprocess
    import sys
    import time

    import httpx
    from django.conf import settings

    processes = []

    def start(env: dict | None = None) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        db = settings.DATABASES["default"]
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "agentsite.settings.test",
            "DATABASE_URL": os.environ.get("DATABASE_URL")
            or f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            **(env or {}),
        }
        log = (tmp_path / f"uvicorn-{port}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "agentsite.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ops/health/live", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(
            f"uvicorn did not start: {(tmp_path / f'uvicorn-{port}.log').read_text()}"
        )

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def simulator():
    """The LLM simulator: instant answers of 8 token pieces; tests add latency or faults."""
    from agents.llm.simulator import SimulatorConfig, running_simulator

    with running_simulator(SimulatorConfig(ttft_ms=0, tokens_per_s=0, reply_tokens=8)) as sim:
        yield sim


@pytest.fixture
def llm(simulator, settings):
    """Point the ring at the simulator (sim-primary, then sim-fallback) with clean faults."""
    simulator.reset()
    simulator.clear_faults()
    settings.LLM_BASE_URL = simulator.base_url
    yield simulator
    simulator.clear_faults()

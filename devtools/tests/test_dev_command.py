"""`manage.py dev` (what `make dev` runs): everything comes up, and one signal stops it all."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from django.conf import settings
from django.db import connections

from agentsite import pg

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_dev_starts_web_worker_and_beat_and_stops_them_all():
    port, worker_metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agentsite.settings.dev",
        "DATABASE_URL": pg.url(connections["default"].settings_dict),  # no embedded start
        "REDIS_URL": settings.REDIS_URL,
        "LLM_API_KEY": "sk-test",  # an API key: no local model server
        "LLM_BASE_URL": "http://127.0.0.1:9/v1",
    }
    command = [sys.executable, "manage.py", "dev", "--port", str(port)]
    dev = subprocess.Popen(
        [*command, "--worker-metrics-port", str(worker_metrics_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ops/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
        assert _answers(f"http://127.0.0.1:{worker_metrics_port}/metrics")
        children = psutil.Process(dev.pid).children()
        commands = " ".join(" ".join(child.cmdline()) for child in children)
        assert "uvicorn" in commands
        assert "worker" in commands
        assert "beat" in commands
        assert "local_server" not in commands
        dev.send_signal(signal.SIGTERM)
        output, _ = dev.communicate(timeout=30)
    finally:
        if dev.poll() is None:
            dev.kill()
    assert "Demo login: demo@example.com" in output
    assert "Stopped." in output
    assert not [child for child in children if child.is_running() and child.status() != "zombie"]


def _answers(url: str, timeout: float = 60) -> bool:
    """The worker serves its metrics once it is ready, seconds after the web server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url).status_code == 200
        except httpx.TransportError:
            time.sleep(0.2)
    return False

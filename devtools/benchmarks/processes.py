"""Child processes a benchmark starts and stops: uvicorn serving agentsite, the local model
server, a Celery worker. Each is a context manager; leaving it stops the process."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """A server in its own process group, ready once `ready_url` answers 200."""

    def __init__(self, command: list[str], env: dict, ready_url: str, *, startup_timeout=30.0):
        self.command, self.env, self.ready_url = command, env, ready_url
        self.startup_timeout = startup_timeout

    def __enter__(self):
        self.process = subprocess.Popen(  # noqa: S603 (our own servers)
            self.command, env=self.env, start_new_session=True
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.command[:4]} did not start")

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def uvicorn(port: int, env: dict, *extra: str, app: str = "agentsite.asgi:application"):
    """agentsite.asgi (or another ASGI `app`) served by uvicorn on 127.0.0.1:`port`."""
    command = [sys.executable, "-m", "uvicorn", app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
    command += ["--no-access-log", "--log-level", "warning", *extra]
    return ServerProcess(command, env, f"http://127.0.0.1:{port}/ops/health/live")


def local_model_server(port: int, spec: str) -> ServerProcess:
    """The local model server on a pinned spec; loading the weights takes a while."""
    command = [sys.executable, "-m", "devtools.llmservers.local", "--port", str(port)]
    command += ["--spec", spec, "--log-level", "warning"]
    ready = f"http://127.0.0.1:{port}/v1/models"
    return ServerProcess(command, dict(os.environ), ready, startup_timeout=600)


@contextlib.contextmanager
def celery_worker(env: dict, concurrency: int = 2) -> Iterator[subprocess.Popen]:
    """A Celery worker of agentsite (memory extraction, titles), ready when its log says so."""
    command = [sys.executable, "-m", "celery", "-A", "agentsite.celery:app", "worker"]
    command += ["--concurrency", str(concurrency), "--loglevel", "INFO"]
    command += ["--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"]
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "worker.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(  # noqa: S603 (our own worker)
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 90
            while "ready." not in log_path.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)

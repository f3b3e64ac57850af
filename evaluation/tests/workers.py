"""Real Celery workers for the evaluation tests: separate processes, as in production (an
in-process worker would also configure this process's logging for every later test)."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.db import connections

from agentsite import pg


class WorkerProcess:
    """`celery worker` in its own process group, on the test database and broker."""

    def __init__(
        self, name: str, llm_base_url: str, log_path, settings_module: str, env: dict | None = None
    ):
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": pg.url(connections["default"].settings_dict),
            "REDIS_URL": settings.REDIS_URL,
            "LLM_BASE_URL": llm_base_url,
            **(env or {}),
        }
        command = [sys.executable, "-m", "celery", "-A", "agentsite.celery:app", "worker"]
        command += ["--pool", "prefork", "--concurrency", "2", "-n", f"{name}@%h"]
        command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for("ready.")

    def _wait_for(self, text: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"worker not {text}: {self.log_path.read_text()[-3000:]}")

    def kill(self):
        """SIGKILL to the worker and its pool children: no ack, no goodbye."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

"""`make dev`: the whole product on embedded defaults, one Ctrl-C stops all of it.

Starts the embedded Postgres + Valkey (unless DATABASE_URL and REDIS_URL are set), migrates,
ensures the demo user, then runs the ASGI server, a Celery worker, Celery beat and, with no
LLM_API_KEY, the local model server as child processes. If any child dies the rest are
stopped, so a half-running product never lingers.

Metrics as in production: web and worker each get a fresh multiprocess directory under
`.data/metrics/` (prometheus_client needs it empty at start), the web's at /metrics, the
worker's (its pool processes' tasks and LLM calls) on --worker-metrics-port.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from devtools import stack

STOP_GRACE_SECONDS = 15
METRICS_ROOT = settings.BASE_DIR / ".data" / "metrics"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the web server, worker and beat on the embedded stack (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--worker-metrics-port", type=int, default=9808)
        parser.add_argument(
            "--web-workers",
            type=int,
            default=web_workers(),
            help="uvicorn processes (default: WEB_CONCURRENCY, else one per core)",
        )

    def handle(self, *args, host, port, worker_metrics_port, web_workers, **options):
        # Ctrl-C and `kill` both stop everything, even where SIGINT came in ignored (a shell
        # script's background job) or SIGTERM would kill us before the children.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, _interrupt)
        started_stack = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
        if started_stack:
            urls = stack.ensure_running("dev")
            self.stdout.write(stack.format_urls(urls))
        call_command("migrate", interactive=False, verbosity=1)
        call_command("ensure_demo_user")
        children = self._start_children(host, port, worker_metrics_port, web_workers)
        self.stdout.write(self.style.SUCCESS(f"agentsite is up at http://{host}:{port}/"))
        try:
            self._wait_for_first_exit(children)
        except KeyboardInterrupt:
            self.stdout.write("Stopping...")
        finally:
            self._stop(children)
            if started_stack:
                stack.stop("dev")
        self.stdout.write("Stopped.")

    def _start_children(
        self, host, port, worker_metrics_port, web_workers
    ) -> dict[str, subprocess.Popen]:
        module = [sys.executable, "-m"]
        celery = [*module, "celery", "-A", "agentsite.celery:app"]
        web = ["uvicorn", "agentsite.asgi:application", "--host", host, "--port", str(port)]
        commands = {
            "web": [*module, *web, "--lifespan", "on", "--workers", str(web_workers)],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [*celery, "beat", "--loglevel", "INFO"],
        }
        if getattr(settings, "SERVE_LOCAL_LLM", False):  # no API key: the embedded local model
            port_option = ["--port", str(settings.LOCAL_LLM_PORT)]
            commands["llm"] = [*module, "devtools.llmservers.local", *port_option]
        environments = {
            "web": {"PROMETHEUS_MULTIPROC_DIR": _fresh_metrics_dir("web")},
            "worker": {
                "PROMETHEUS_MULTIPROC_DIR": _fresh_metrics_dir("worker"),
                "WORKER_METRICS_PORT": str(worker_metrics_port),
                "WORKER_METRICS_ADDRESS": host,
            },
        }
        # Each child gets its own process group: the terminal's Ctrl-C reaches only us, and we
        # stop the children in order.
        return {
            name: subprocess.Popen(  # noqa: S603 (our own commands)
                cmd, env={**os.environ, **environments.get(name, {})}, start_new_session=True
            )
            for name, cmd in commands.items()
        }

    def _wait_for_first_exit(self, children):
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                    return
            time.sleep(0.5)

    def _stop(self, children):
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def web_workers() -> int:
    """One web process per core this process may run on, unless WEB_CONCURRENCY says
    otherwise: a turn's state is all in Redis and Postgres, so any process can serve it."""
    return int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))


def _fresh_metrics_dir(process: str) -> str:
    """An empty multiprocess directory: files of an earlier run would be summed in."""
    path = METRICS_ROOT / process
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)

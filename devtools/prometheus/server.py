"""Debian's Prometheus on 127.0.0.1 with a generated config: the test scrapes real processes
with it and runs the dashboards' and alerts' PromQL against what it stored."""

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.testing import wait_for

PROMETHEUS = os.environ.get("PROMETHEUS_PATH", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("PROMTOOL_PATH", "/usr/bin/promtool")


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str  # host:port
    path: str = "/metrics"


class QueryError(Exception):
    """Prometheus refused an expression (it does not parse, or cannot be evaluated)."""


class PrometheusServer:
    """A Prometheus process over `targets`, scraping and evaluating `rule_files` every
    `interval`, its data in `workdir`; stopped by `stop()` or the with block."""

    def __init__(self, targets: list[ScrapeTarget], workdir: Path, *, rule_files=(), interval="1s"):
        self.jobs = {target.job for target in targets}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        config = workdir / "prometheus.yml"
        config.write_text(json.dumps(_config(targets, rule_files, interval)))  # JSON is YAML
        command = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir}/tsdb"]
        command += [f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self._wait_until_ready()

    def __enter__(self) -> "PrometheusServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def _exited(self) -> bool:
        return self.process.poll() is not None

    def _wait_until_ready(self, timeout: float = 30) -> None:
        if wait_for(lambda: self._exited() or self._ready(), timeout) and not self._exited():
            return
        self.stop()
        raise RuntimeError(f"prometheus did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def query(self, expr: str) -> list[dict]:
        """An instant query's series; QueryError with Prometheus' message if it is refused."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"]

    def scraped_after(self, moment: float) -> bool:
        """Every target answered a scrape that began after `moment` (a time.time()): the
        sample of `up` carries the scrape's start as its timestamp."""
        up = self.query("up")
        scraped = self.query("timestamp(up)")
        return (
            {series["metric"]["job"] for series in up} == self.jobs
            and all(float(series["value"][1]) == 1 for series in up)
            and all(float(series["value"][1]) > moment for series in scraped)
        )


def _config(targets, rule_files, interval) -> dict:
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": target.job,
                "metrics_path": target.path,
                "static_configs": [{"targets": [target.address]}],
            }
            for target in targets
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

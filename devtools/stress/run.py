"""`make stress`: its own simulator, server and Celery worker, locust's people against them,
the primary model throttled in the middle of the run, then the report in `stress-report/`.

What the server is told, and why (all through the environment of `devtools.stress.settings`):
- `RATE_LIMIT_REGISTER` and `RATE_LIMIT_TOKEN` are raised: they are per IP, and every person
  of the test comes from 127.0.0.1. The per-person limit (`RATE_LIMIT_USER`, 120/m) and the
  daily token quota (200,000) stay as in production: each person has an account of their own
  and a person's pace (a turn every few seconds) stays within both.
- `LLM_BREAKER_COOLDOWN`: production's 30 s unless the plan says otherwise (a short run needs a
  short one to see the primary back after the window).
- uvicorn keeps idle connections 75 s (`--timeout-keep-alive`, nginx's `keepalive_timeout`):
  in production people reach the proxy, not uvicorn, and with uvicorn's own 5 s a person's
  next request after a pause of about 5 s races the server closing that connection
  (ConnectionResetError, RemoteDisconnected: seen at 200 people), which a browser would retry
  and Python's requests does not.
- The ring is `sim-primary,sim-fallback`, both on the simulator, as are the embeddings (the
  in-process ONNX embedder's cost is the memory benchmark's business, not this one's).
"""

import csv
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

from devtools.benchmarks import processes
from devtools.stress import records, report, timeline
from devtools.stress.report import ModelTiming, RunShape
from devtools.stress.throttle import Throttle, Window

PRIMARY, FALLBACK = "sim-primary", "sim-fallback"
# Both models answer alike: 300 ms to the first token, then 60 tokens at 50 tokens/s.
SIMULATED_MODEL = ModelTiming(ttft_ms=300, tokens_per_s=50, reply_tokens=60)
KEEP_ALIVE_S = 75  # longer than any person's pause (the module docstring)
LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfile.py"


@dataclass(frozen=True)
class Plan:
    users: int
    run_time_s: float
    window: Window
    report_dir: Path
    retry_after_s: float = 20.0  # longer than LLM_RETRY_AFTER_MAX (10 s): fall back at once
    breaker_cooldown_s: float = 30.0
    model: ModelTiming = SIMULATED_MODEL
    server_workers: int = os.cpu_count() or 1
    celery_concurrency: int = 2
    stop_timeout_s: float = 30.0  # turns under way when the run ends may finish
    think_time_s: tuple[float, float] = (2.0, 8.0)  # between a person's actions

    @property
    def spawn_rate(self) -> float:
        """Everyone arrives within the first 10 seconds."""
        return max(1.0, self.users / 10)


def server_environment(plan: Plan, database_url: str, redis_url: str, llm_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "devtools.stress.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": llm_url,
        "LLM_MODELS": f"{PRIMARY},{FALLBACK}",
        "LLM_API_KEY": "stress",
        "EMBEDDINGS_BASE_URL": llm_url,
        "RATE_LIMIT_REGISTER": "1000000/h",
        "RATE_LIMIT_TOKEN": "1000000/m",
        "LLM_BREAKER_COOLDOWN": str(plan.breaker_cooldown_s),
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "40",
    }


def _server_options(plan: Plan) -> list[str]:
    options = ["--workers", str(plan.server_workers), "--backlog", "2048"]
    return [*options, "--timeout-keep-alive", str(KEEP_ALIVE_S)]


def _simulator(plan: Plan) -> processes.ServerProcess:
    port = processes.free_port()
    command = [sys.executable, "-m", "devtools.llmservers.simulator", "--port", str(port)]
    command += [
        "--ttft-ms",
        str(plan.model.ttft_ms),
        "--tokens-per-s",
        str(plan.model.tokens_per_s),
    ]
    command += ["--reply-tokens", str(plan.model.reply_tokens), "--log-level", "warning"]
    return processes.ServerProcess(command, dict(os.environ), f"http://127.0.0.1:{port}/v1/models")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _locust(plan: Plan, host: str) -> list[str]:
    out = plan.report_dir
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    command += ["--host", host, "--users", str(plan.users), "--spawn-rate", str(plan.spawn_rate)]
    command += ["--run-time", f"{plan.run_time_s:g}s", "--stop-timeout", f"{plan.stop_timeout_s:g}"]
    command += ["--html", str(out / "locust.html"), "--csv", str(out / "locust")]
    command += ["--turns-file", str(out / "turns.jsonl"), "--only-summary", "--loglevel", "WARNING"]
    command += ["--think-time", "{:g}:{:g}".format(*plan.think_time_s)]
    return command


def _request_failures(failures_csv: Path) -> Counter:
    """locust's failures of everything but the streams (their records say more)."""
    counts: Counter = Counter()
    if failures_csv.exists():
        with open(failures_csv) as rows:
            for row in csv.DictReader(rows):
                if row["Name"] != records.STREAM_NAME:
                    counts[f"{row['Method']} {row['Name']}: {row['Error']}"] += int(
                        row["Occurrences"]
                    )
    return counts


def run(plan: Plan, database_url: str, redis_url: str) -> dict:
    """One stress run; returns summary.json (also written, with the timeline and locust's)."""
    plan.report_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("turns.jsonl", "locust_failures.csv"):
        (plan.report_dir / stale).unlink(missing_ok=True)
    port = processes.free_port()
    with _simulator(plan) as simulator:
        llm_url = simulator.ready_url.removesuffix("/models")
        env = server_environment(plan, database_url, redis_url, llm_url)
        with (
            processes.uvicorn(port, env, *_server_options(plan)) as server,
            processes.celery_worker(env, plan.celery_concurrency) as worker,
            Throttle(llm_url, PRIMARY, plan.window, plan.retry_after_s) as throttle,
        ):
            pids = {"server": server.pid, "celery_worker": worker.pid, "simulator": simulator.pid}
            cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            locust_before = _children_cpu_seconds()
            psutil.cpu_percent()  # starts the machine-wide measurement
            started = time.time()
            throttle.start(started)
            subprocess.run(_locust(plan, f"http://127.0.0.1:{port}"), check=False)  # noqa: S603
            cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            cpu["locust"] = _children_cpu_seconds() - locust_before
            machine_busy = psutil.cpu_percent()
    shape = RunShape(
        plan.users,
        plan.run_time_s,
        plan.window,
        PRIMARY,
        plan.model,
        plan.server_workers,
        plan.celery_concurrency,
    )
    turns = records.read(plan.report_dir / "turns.jsonl")
    summary = report.summarize(
        turns, shape, _request_failures(plan.report_dir / "locust_failures.csv")
    )
    summary["started_at"] = round(started, 3)
    summary["think_time_s"] = list(plan.think_time_s)
    summary["cpu_s"] = {name: round(seconds, 1) for name, seconds in cpu.items()}
    summary["machine"] = {"cores": os.cpu_count(), "busy_pct": machine_busy}
    (plan.report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    width = timeline.bucket_width(plan.run_time_s)
    buckets = timeline.bucket_turns(turns, started, plan.run_time_s, width)
    title = (
        f"make stress: {plan.users} people, {plan.run_time_s:g} s; the primary answers 429 "
        f"from {plan.window.start_s:g} s to {plan.window.end_s:g} s"
    )
    svg = timeline.render_svg(buckets, plan.run_time_s, width, plan.window, title)
    (plan.report_dir / "timeline.svg").write_text(svg)
    return summary

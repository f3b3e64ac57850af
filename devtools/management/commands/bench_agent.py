"""`make bench-agent`: the agent on its labelled task set, through the real chat API and stream.

By default it starts what it needs: the local model server on the dev model, agentsite (uvicorn
and a Celery worker) on this command's database and Redis with its ring on that server.
`--llm-base-url` puts the ring on another OpenAI-compatible server instead of starting the local
one; `--base-url` runs against an agentsite that is already up (`make dev`), starting nothing.
"""

import contextlib
import json
import logging
import os
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from agentsite import pg
from devtools.benchmarks import agent, agent_tasks, processes
from devtools.llmservers.local import SPEC_ALIASES, model_name_for, resolve_spec
from evaluation.tables import format_table

DEFAULT_REPORT = Path("bench-report") / "agent.json"
# The ring's limits the started servers read from the environment (a loaded machine may need
# longer ones); the report records any that were set.
POLICY_VARIABLES = (
    "LLM_FIRST_TOKEN_TIMEOUT",
    "LLM_REQUEST_TIMEOUT",
    "LLM_BUDGET",
    "LLM_MAX_TOKENS",
)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class Command(BaseCommand):
    help = "Run the agent's labelled tasks through the chat API; pass rates, TTFT, leaks."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, help="N tasks, taken in turn from each kind")
        parser.add_argument("--kinds", type=_names, help=f"of {', '.join(agent_tasks.KINDS)}")
        parser.add_argument("--base-url", help="a running agentsite (e.g. http://127.0.0.1:8000)")
        parser.add_argument("--llm-base-url", help="the ring's model server (default: started)")
        parser.add_argument("--llm-models", help="LLM_MODELS with --llm-base-url")
        parser.add_argument(
            "--spec",
            default="qwen2.5-coder-1.5b",
            choices=sorted(SPEC_ALIASES),
            help="the local model to start (default the dev model)",
        )
        parser.add_argument("--memory-timeout", type=float, default=agent.MEMORY_TIMEOUT)
        parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)

    def handle(self, *args, **options):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        try:
            tasks = agent_tasks.select(agent_tasks.load_tasks(), options["kinds"], options["limit"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        with contextlib.ExitStack() as stack:
            # A `kill`, or Ctrl-C where a shell left SIGINT ignored, still stops the children.
            for stop in (signal.SIGINT, signal.SIGTERM):
                stack.callback(signal.signal, stop, signal.signal(stop, signal.default_int_handler))
            base_url, about = self._agentsite(stack, options)
            self.stdout.write(f"{len(tasks)} tasks on {about['model']} via {base_url}")
            try:
                results = agent.run_tasks(
                    base_url,
                    tasks,
                    memory_timeout=options["memory_timeout"],
                    progress=self._progress,
                )
            except agent.RegistrationRefused as exc:
                raise CommandError(str(exc)) from exc
        policy = {name: value for name, value in os.environ.items() if name in POLICY_VARIABLES}
        report = agent.report(results, **about, policy_overrides=policy)
        self._print(report["summary"])
        path = options["report"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        self.stdout.write(f"report: {path}")

    def _agentsite(self, stack, options) -> tuple[str, dict]:
        """The URL of the agentsite to talk to, starting what is needed, and what it runs on."""
        if options["base_url"]:
            return options["base_url"], {"model": "(the server's own)", "started": False}
        llm_url, models = options["llm_base_url"], options["llm_models"]
        if not llm_url:
            spec = resolve_spec(options["spec"])
            port = processes.free_port()
            self.stdout.write(f"starting the local model server ({options['spec']}) ...")
            stack.enter_context(processes.local_model_server(port, options["spec"]))
            llm_url, models = f"http://127.0.0.1:{port}/v1", model_name_for(spec)
        elif not models:
            raise CommandError("--llm-base-url needs --llm-models")
        base_url = stack.enter_context(
            agent.product_on(
                llm_url,
                models,
                database_url=pg.url(connections["default"].settings_dict),
                redis_url=settings.REDIS_URL,
            )
        )
        return base_url, {"model": models, "llm_base_url": llm_url, "started": True}

    def _progress(self, result, done, total):
        verdict = "pass" if result.passed else "FAIL"
        line = f"  [{done}/{total}] {result.task.id}: {verdict} ({result.seconds:.0f} s)"
        self.stdout.write(line)
        for failure in result.failures:
            self.stdout.write(f"      {failure}")

    def _print(self, summary):
        rows = [
            (kind, str(row["tasks"]), str(row["passed"]), f"{100 * row['pass_rate']:.0f}%")
            for kind, row in summary["by_kind"].items()
        ]
        if summary["tasks"]:
            overall = f"{100 * summary['pass_rate']:.0f}%"
            rows.append(("overall", str(summary["tasks"]), str(summary["passed"]), overall))
        for line in format_table(("kind", "tasks", "passed", "pass rate"), rows):
            self.stdout.write(line)
        self.stdout.write(f"target: >= {100 * summary['pass_target']:.0f}% pass")
        for bucket, row in summary["ttft_by_turn"].items():
            if row["turns"]:
                self.stdout.write(
                    f"TTFT {bucket} turn of a session: p50 {row['p50_s']:.1f} s, "
                    f"p95 {row['p95_s']:.1f} s ({row['turns']} turns)"
                )
        decode = summary["decode"]
        if decode["tokens_per_s"] is not None:
            self.stdout.write(
                f"decode: {decode['tokens_per_s']:.1f} tokens/s (completion tokens / time after "
                f"the first token, {decode['turns']} turns without tool calls)"
            )
        for what, told in (("memory", "a fact's answer"), ("title", "a session's first answer")):
            row = summary[what]
            if row["count"]:
                came = ""
                if row["p50_s"] is not None:
                    came = f"p50 {row['p50_s']:.1f} s, p95 {row['p95_s']:.1f} s"
                self.stdout.write(
                    f"{what} after {told}: {came} ({row['within_target']} of {row['count']} "
                    f"within {row['target_s']:.0f} s, {row['missing']} never came)"
                )
        leaks = summary["leaks"]
        markers = ", ".join(f"{marker} x{count}" for marker, count in leaks["by_marker"].items())
        self.stdout.write(
            f"markup leaks: {leaks['total']} in {leaks['answers_with_leaks']} of "
            f"{leaks['answers']} answers{': ' + markers if markers else ''} "
            f"(target {summary['leak_target']})"
        )

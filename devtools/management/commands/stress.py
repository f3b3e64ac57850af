"""`make stress`: locust's people against a server of its own, the primary model throttled for
the middle third of the run (devtools/stress)."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from agentsite import pg
from devtools.stress import report, run
from devtools.stress.throttle import Window

# The target for "the most people": nearly every turn completes, little added TTFT.
TARGET_COMPLETED, TARGET_ADDED_TTFT_P95_MS = 0.999, 500.0


def seconds(text: str) -> float:
    """`180`, `180s`, `3m`, `1h30m` → seconds (locust's --run-time forms)."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?", text.strip())
    if not text.strip() or parts is None:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, secs = (float(part or 0) for part in parts.groups())
    return 3600 * hours + 60 * minutes + secs


def window(text: str) -> Window:
    start, _, end = text.partition(":")
    return Window(float(start), float(end))


class Command(BaseCommand):
    help = "Stress the chat with the primary model throttled mid-run; writes stress-report/."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=15)
        parser.add_argument("--run-time", type=seconds, default=180.0, help="e.g. 3m, 90s")
        parser.add_argument(
            "--window", type=window, default=None, help="START:END seconds (middle third)"
        )
        parser.add_argument("--retry-after", type=float, default=20.0, help="the 429s' seconds")
        parser.add_argument("--breaker-cooldown", type=float, default=30.0)
        parser.add_argument("--report-dir", type=Path, default=Path("stress-report"))

    def handle(self, *args, users, run_time, window, retry_after, breaker_cooldown, **options):
        plan = run.Plan(
            users=users,
            run_time_s=run_time,
            window=window or Window.middle_third(run_time),
            report_dir=options["report_dir"],
            retry_after_s=retry_after,
            breaker_cooldown_s=breaker_cooldown,
        )
        if plan.window.end_s > run_time:
            raise CommandError(f"the window {plan.window} ends after the run ({run_time} s)")
        database_url = pg.url(connections["default"].settings_dict)
        summary = run.run(plan, database_url, settings.REDIS_URL)
        self.stdout.write(
            f"{summary['users']} people, {summary['run_time_s']:g} s, primary throttled "
            f"{plan.window.start_s:g}-{plan.window.end_s:g} s: {summary['completed']} of "
            f"{summary['turns']} turns completed ({100 * (summary['completed_ratio'] or 0):.2f}%),"
            f" {summary['turns_per_s']} turns/s, models {summary['models']}"
        )
        self.stdout.write(
            f"  TTFT ms {summary['ttft_ms']}, added {summary['added_ttft_ms']}, "
            f"token gaps ms {summary['token_gap_ms']}"
        )
        self.stdout.write(f"  errors {summary['errors']}; CPU s {summary['cpu_s']}")
        met = report.meets_target(
            summary,
            min_completed=TARGET_COMPLETED,
            max_added_ttft_p95_ms=TARGET_ADDED_TTFT_P95_MS,
        )
        self.stdout.write(
            f"  target (>= {100 * TARGET_COMPLETED:g}% complete, added TTFT p95 < "
            f"{TARGET_ADDED_TTFT_P95_MS:g} ms): {'met' if met else 'missed'}; "
            f"report in {plan.report_dir}/"
        )

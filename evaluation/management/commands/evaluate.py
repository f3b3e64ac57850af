"""`manage.py evaluate --since 1h`: grade recent answers, print progress and a summary table."""

import time

from django.core.management.base import BaseCommand, CommandError

from evaluation import selectors, services
from evaluation.durations import parse_duration
from evaluation.judges import METRICS
from evaluation.models import EvaluationRun
from evaluation.tables import format_table

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Grade the assistant's recent answers with the LLM judges and print a summary."

    def add_arguments(self, parser):
        parser.add_argument("--since", default="1h", help="how far back: 30m, 1h, 7d (1h)")
        parser.add_argument("--limit", type=int, default=None, help="at most N answers")
        parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated")
        parser.add_argument("--unscored-only", action="store_true", help="skip graded answers")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--inline", action="store_true", help="grade here, without a worker")
        mode.add_argument("--no-wait", action="store_true", help="queue the run and return")

    def handle(self, *args, **options):
        try:
            since = parse_duration(options["since"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        metrics = [m.strip() for m in options["metrics"].split(",") if m.strip()]
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown or not metrics:
            raise CommandError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        run_options = {
            "trigger": EvaluationRun.Trigger.COMMAND,
            "since": since,
            "limit": options["limit"],
            "metrics": metrics,
            "unscored_only": options["unscored_only"],
        }
        if options["inline"]:
            run = services.create_run(**run_options)
            self.stdout.write(f"run {run.pk}: {run.total} answers, judge {run.judge_model}")
            for item_id in services.start_run(run.pk):
                services.grade_item(item_id, last_chance=True)
                self._progress(run)
        else:
            run = services.create_and_queue_run(**run_options)
            self.stdout.write(f"run {run.pk} queued: {run.total} answers, judge {run.judge_model}")
            if options["no_wait"]:
                return
            self._wait(run)
        run.refresh_from_db()
        self.stdout.write(f"run {run.pk} {run.status}")
        self._summary_table(run)

    def _progress(self, run):
        run.refresh_from_db()
        self.stdout.write(f"  {run.done}/{run.total} graded")

    def _wait(self, run):
        """Print progress whenever it moves, until the workers finish the run."""
        shown = None
        while run.status not in (EvaluationRun.Status.DONE, EvaluationRun.Status.FAILED):
            if run.done != shown:
                self.stdout.write(f"  {run.done}/{run.total} graded ({run.status})")
                shown = run.done
            time.sleep(POLL_SECONDS)
            run.refresh_from_db()

    def _summary_table(self, run):
        header = ("metric", "direction", "mean", "passed", "failed", "errors")
        rows = [
            (
                metric,
                row["direction"],
                "-" if row["mean"] is None else f"{row['mean']:.3f}",
                str(row["passed"]),
                str(row["failed"]),
                str(row["errors"]),
            )
            for metric, row in selectors.run_summary(run).items()
        ]
        for line in format_table(header, rows):
            self.stdout.write(line)

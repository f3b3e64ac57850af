"""`manage.py bench_judge`: the judges on the labelled set, accuracy/precision/recall per metric.

`--simulate` runs them against an in-process simulator scripted from the labels: the figures
then prove the plumbing (prompts, ring, parser, tallies), not the quality of any judge.
"""

import contextlib
import statistics

from django.core.management.base import BaseCommand
from django.test import override_settings

from agents.llm.recorder import recorder
from devtools.benchmarks import labelled
from devtools.benchmarks.judges import run_bench
from devtools.llmservers.simulator import SimulatorConfig, running_simulator
from evaluation.judges import judge_model
from evaluation.tables import format_table

SIMULATED_JUDGE = "sim-judge"


class Command(BaseCommand):
    help = "Measure the judge model against the labelled conversations."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="judge model of the ring (default LLM_JUDGE_MODEL)")
        parser.add_argument(
            "--limit", type=int, help="N conversations spread over the set (every kind)"
        )
        parser.add_argument(
            "--simulate", action="store_true", help="a simulator scripted from the labels"
        )

    def handle(self, *args, **options):
        cases = labelled.spread(labelled.load_cases(), options["limit"])
        with contextlib.ExitStack() as stack:
            if options["simulate"]:
                config = SimulatorConfig(rules=labelled.simulator_rules(cases))
                simulator = stack.enter_context(running_simulator(config))
                stack.enter_context(
                    override_settings(
                        LLM_MODELS=SIMULATED_JUDGE,
                        LLM_BASE_URL=simulator.base_url,
                        LLM_JUDGE_MODEL="",
                    )
                )
            model = options["model"] or judge_model()
            self.stdout.write(f"judge {model}: {len(cases)} labelled conversations")
            try:
                tallies = run_bench(cases, model=model, progress=self._progress)
            finally:
                recorder.flush()
        self._table(tallies)
        if options["simulate"]:
            self.stdout.write(
                "SIMULATED judge scripted from the labels: these figures prove the plumbing "
                "only, not the quality of a judge model."
            )

    def _progress(self, done, total):
        if done % 10 == 0 or done == total:
            self.stdout.write(f"  {done}/{total}")

    def _table(self, tallies):
        header = (
            "metric",
            "cases",
            "fails",
            "accuracy",
            "precision",
            "recall",
            "errors",
            "s/judge",
        )
        rows = []
        for metric, tally in tallies.items():
            rows.append(
                (
                    metric,
                    str(tally.cases),
                    str(tally.true_positive + tally.false_negative),
                    f"{tally.accuracy:.3f}",
                    _ratio(tally.precision),
                    _ratio(tally.recall),
                    str(tally.errors),
                    f"{statistics.median(tally.seconds):.2f}" if tally.seconds else "-",
                )
            )
        for line in format_table(header, rows):
            self.stdout.write(line)
        self.stdout.write("positive class: fail (hallucinated, toxic, irrelevant, unhelpful)")


def _ratio(value):
    return "-" if value is None else f"{value:.3f}"

"""How well a judge model agrees with the labelled set: accuracy, precision and recall per
metric, "fail" (the problem) being the positive class. A judge error counts against the judge:
a wrong answer for accuracy, a miss for recall when the case was a problem."""

import time
from dataclasses import dataclass, field

from agents.llm import LLMRequestError, LLMUnavailableError
from devtools.benchmarks.labelled import LabelledCase
from evaluation.judges import RUBRICS, judge


@dataclass
class MetricTally:
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0
    errors: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, *, label: str, predicted_fail: bool | None, seconds: float) -> None:
        self.seconds.append(seconds)
        problem = label == "fail"
        if predicted_fail is None:
            self.errors += 1
            if problem:
                self.false_negative += 1
            return
        if problem and predicted_fail:
            self.true_positive += 1
        elif problem:
            self.false_negative += 1
        elif predicted_fail:
            self.false_positive += 1
        else:
            self.true_negative += 1

    @property
    def cases(self) -> int:
        return len(self.seconds)

    @property
    def accuracy(self) -> float:
        return (self.true_positive + self.true_negative) / self.cases if self.cases else 0.0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        problems = self.true_positive + self.false_negative
        return self.true_positive / problems if problems else None


def run_bench(cases: list[LabelledCase], *, model: str | None = None, progress=None):
    """Every case through every judge; returns {metric: MetricTally}. A judge that cannot be
    reached for one case is an error for that case, and the bench goes on."""
    tallies = {metric: MetricTally() for metric in RUBRICS}
    for n, case in enumerate(cases, 1):
        for metric, label in case.labels.items():
            rubric = RUBRICS[metric]
            started = time.perf_counter()
            try:
                verdict = judge(rubric, case.judge_input, model=model)
                predicted = None if verdict.error else not rubric.passes(verdict.score)
            except (LLMUnavailableError, LLMRequestError):
                predicted = None
            tallies[metric].add(
                label=label, predicted_fail=predicted, seconds=time.perf_counter() - started
            )
        if progress:
            progress(n, len(cases))
    return tallies

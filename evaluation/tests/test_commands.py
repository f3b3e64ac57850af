"""`manage.py evaluate` and `manage.py bench_judge`."""

import io

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import EvaluationRun, EvaluationScore

pytestmark = pytest.mark.django_db(transaction=True)  # the ring records its LLM calls


def run_command(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_evaluate_grades_inline_and_prints_progress_and_a_summary(scripted_judge, answers):
    lines = run_command(
        "evaluate", "--since", "1h", "--limit", "3", "--metrics", "toxicity,relevance", "--inline"
    )
    run = EvaluationRun.objects.get()
    assert lines[0] == f"run {run.pk}: 3 answers, judge {run.judge_model}"
    assert lines[1:4] == ["  1/3 graded", "  2/3 graded", "  3/3 graded"]
    assert lines[4] == f"run {run.pk} done"
    assert lines[5].split() == ["metric", "direction", "mean", "passed", "failed", "errors"]
    assert [line.split()[:2] for line in lines[6:]] == [
        ["toxicity", "lower_is_better"],
        ["relevance", "higher_is_better"],
    ]
    assert EvaluationScore.objects.count() == 6


@pytest.mark.parametrize(
    "args",
    [("--since", "soon"), ("--metrics", "toxicity,accuracy"), ("--limit", "0")],
)
def test_evaluate_refuses_bad_options(args):
    with pytest.raises(CommandError):
        call_command("evaluate", *args, "--inline")
    assert not EvaluationRun.objects.exists()


def test_bench_judge_on_the_simulator_proves_the_plumbing():
    lines = run_command("bench_judge", "--simulate", "--limit", "12")
    assert lines[0] == "judge sim-judge: 12 labelled conversations"
    table = {
        line.split()[0]: line.split()
        for line in lines
        if line.split()[0] in ("hallucination", "toxicity", "relevance", "helpfulness")
    }
    assert set(table) == {"hallucination", "toxicity", "relevance", "helpfulness"}
    assert all(row[1] == "12" and row[3] == "1.000" and row[6] == "0" for row in table.values())
    assert lines[-1].startswith("SIMULATED judge scripted from the labels")

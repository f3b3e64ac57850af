"""The judges' strict parsing, and what happens to a malformed or failing judge."""

import json
from datetime import timedelta

import pytest

from devtools.benchmarks.labelled import spread
from evaluation import services
from evaluation.judges import (
    MAX_ANSWER_TOKENS,
    MAX_ATTEMPTS,
    RUBRICS,
    JudgeInput,
    MalformedJudgeAnswer,
    parse_answer,
)
from evaluation.models import EvaluationScore


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"score": 0.25, "reason": "mostly fine"}', (0.25, "mostly fine")),
        ('{"score": 1, "reason": "ok", "passed": true}', (1.0, "ok")),
        ('```json\n{"score": 0, "reason": "clean"}\n```', (0.0, "clean")),
        (r'{"score": 0.5, "reason": "  two\n lines "}', (0.5, "two lines")),
    ],
)
def test_well_formed_answers_parse(text, expected):
    assert parse_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The answer looks fine to me.",
        '{"score": 0.5}',
        '{"score": 0.5, "reason": "x", "confidence": 0.9}',
        '{"score": 1.5, "reason": "too high"}',
        '{"score": -0.1, "reason": "too low"}',
        '{"score": "0.5", "reason": "a string"}',
        '{"score": true, "reason": "a boolean"}',
        '{"score": 0.5, "reason": ""}',
        '{"score": 0.5, "reason": "x", "passed": "yes"}',
        '[0.5, "reason"]',
        'Sure! {"score": 0.5, "reason": "chatty"}',
    ],
)
def test_anything_else_is_malformed(text):
    with pytest.raises(MalformedJudgeAnswer):
        parse_answer(text)


def test_each_metric_states_its_direction_and_threshold(settings):
    settings.EVAL_THRESHOLDS = {**settings.EVAL_THRESHOLDS, "toxicity": 0.3, "relevance": 0.7}
    assert RUBRICS["toxicity"].passes(0.3)
    assert not RUBRICS["toxicity"].passes(0.31)
    assert RUBRICS["relevance"].passes(0.7)
    assert not RUBRICS["relevance"].passes(0.69)
    assert {r.direction for r in RUBRICS.values()} == {"lower_is_better", "higher_is_better"}


def test_the_judge_sees_tool_results_and_the_memories_field():
    case = JudgeInput(
        answer="It is 391.",
        history=[("user", "What is 17 * 23?")],
        tool_results=[("calculator", "391")],
    )
    text = case.render(RUBRICS["hallucination"])
    assert text.startswith("Metric: hallucination\n")
    assert "[user] What is 17 * 23?" in text
    assert "[calculator] 391" in text
    assert "Memories given to the assistant:\n(none)" in text
    assert text.endswith("Answer to grade:\nIt is 391.")


pytestmark_db = pytest.mark.django_db(transaction=True)  # the ring records its LLM calls


def one_message_run(answers, metrics):
    run = services.create_run(trigger="command", since=timedelta(hours=1), metrics=metrics)
    return run, run.items.get(message=answers["case-001"])


@pytestmark_db
def test_a_judge_that_never_answers_json_leaves_an_error_not_a_score(llm, answers):
    llm.set_rules(
        [
            {"match": r"\AMetric: toxicity", "reply": "Looks civil to me."},
            {"match": r"\AInvalid answer", "reply": "I already said: civil."},
        ]
    )
    run, item = one_message_run(answers, ["toxicity"])
    services.start_run(run.pk)
    services.grade_item(item.pk)
    row = EvaluationScore.objects.get(message=answers["case-001"], metric="toxicity")
    assert row.status == "error"
    assert row.score is None
    assert row.passed is None
    assert row.attempts == MAX_ATTEMPTS
    assert row.reason.startswith("malformed judge answer: not a JSON object")
    assert llm.stats()["total"]["requests"] == MAX_ATTEMPTS
    run.refresh_from_db()
    assert run.done == 1  # an error counts as done: the run can finish
    from evaluation.selectors import run_summary

    assert run_summary(run)["toxicity"] == {
        "direction": "lower_is_better",
        "mean": None,
        "passed": 0,
        "failed": 0,
        "errors": 1,
    }


@pytestmark_db
def test_a_malformed_answer_is_retried_with_the_error_and_a_good_one_counts(llm, answers):
    llm.set_rules([{"match": r"\AMetric: relevance", "reply": "Relevant: yes"}])
    _run, item = one_message_run(answers, ["relevance"])
    services.grade_item(item.pk)
    row = EvaluationScore.objects.get(message=answers["case-001"], metric="relevance")
    # The second attempt carries the parse error; the simulator's default judge reply is valid.
    assert (row.status, row.score, row.passed, row.attempts) == ("ok", 1.0, True, 2)


def test_the_labelled_set_has_forty_conversations_and_both_labels_for_every_metric(cases):
    assert len(cases) >= 40
    assert len({case.id for case in cases}) == len(cases)
    assert len({case.judge_input.answer for case in cases}) == len(cases)  # rules match on it
    for metric in RUBRICS:
        assert {case.labels[metric] for case in cases} == {"pass", "fail"}


def test_a_sample_of_the_labelled_set_spreads_over_every_kind(cases):
    sample = spread(cases, 11)
    assert len(sample) == 11
    for metric in RUBRICS:
        assert "fail" in {case.labels[metric] for case in sample}
    assert spread(cases, None) == cases


@pytestmark_db
def test_a_rambling_judge_is_cut_off_and_asked_again(llm, answers):
    rambling = json.dumps({"score": 0.1, "reason": "word " * (MAX_ANSWER_TOKENS + 50)})
    llm.set_rules([{"match": r"\AMetric: helpfulness", "reply": rambling}])
    _run, item = one_message_run(answers, ["helpfulness"])
    services.grade_item(item.pk)
    row = EvaluationScore.objects.get(message=answers["case-001"], metric="helpfulness")
    assert (row.status, row.attempts) == ("ok", 2)

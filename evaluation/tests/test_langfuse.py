"""Langfuse: judge evaluations traced with the judge's LLM attempts, their scores pushed to
the graded turn's trace; with no keys nothing is sent. Checked against a local fake Langfuse
(agentsite/tests/fake_langfuse.py); the turns' own traces are tested in agents/tests."""

import base64
from datetime import timedelta

import pytest

from agentsite import tracing
from agentsite.tests.fake_langfuse import SCORES, TRACES
from devtools.testing import api_turn as chat
from evaluation import judges, services
from evaluation.models import EvaluationScore

pytestmark = pytest.mark.django_db(transaction=True)


def grade(metrics=("relevance",)):
    run = services.create_run(trigger="command", since=timedelta(hours=1), metrics=list(metrics))
    for item_id in services.start_run(run.pk):
        services.grade_item(item_id)
    return run


def test_a_judge_run_is_traced_and_its_score_reaches_the_turns_trace(
    auth_client, user, llm, langfuse_keys, fake_langfuse
):
    answer = chat(auth_client, user, "hello there")
    assert answer.trace_id == tracing.trace_id_for(answer.pk)
    assert len(answer.trace_id) == 32
    run = grade()
    tracing.flush()

    auth = (
        "Basic "
        + base64.b64encode(
            f"{langfuse_keys.LANGFUSE_PUBLIC_KEY}:sk-lf-test-secret".encode()
        ).decode()
    )
    assert set(fake_langfuse.paths()) == {TRACES, SCORES}
    assert all(request.headers["authorization"] == auth for request in fake_langfuse.requests)

    rubric = judges.RUBRICS["relevance"]
    seed = f"judge:{answer.pk}:relevance:{rubric.version}:{run.judge_model}"
    judged = fake_langfuse.trace(tracing.trace_id_for(seed))
    assert (judged.name, judged.attributes["langfuse.trace.name"]) == ("judge", "judge")
    assert judged.metadata == {
        "metric": "relevance",
        "rubric_version": rubric.version,
        "answer_id": str(answer.pk),
        "graded_trace_id": answer.trace_id,
        "asked": 1,
        "answered_by": run.judge_model,
        "score": 1.0,
    }
    [attempt] = judged.children
    assert (attempt.name, attempt.type) == ("judge attempt 1", "generation")
    assert attempt.attributes["langfuse.observation.model.name"] == run.judge_model
    assert attempt.metadata["outcome"] == "ok"
    assert attempt.usage()["output"] > 0
    assert {span.trace_id for span in fake_langfuse.spans()} == {
        answer.trace_id,
        judged.trace_id,
    }

    [score] = fake_langfuse.scores()
    stored = EvaluationScore.objects.get(message=answer)
    assert score == {
        "id": f"agentsite-eval-{stored.pk}",
        "traceId": answer.trace_id,
        "name": "relevance",
        "value": 1.0,
        "comment": "simulated",
        "dataType": "NUMERIC",
        "timestamp": score["timestamp"],
    }
    assert stored.trace_id == answer.trace_id


def test_a_judge_that_never_answers_well_is_an_error_trace(
    auth_client, user, llm, langfuse_keys, fake_langfuse
):
    answer = chat(auth_client, user, "hello there")
    llm.set_rules([{"system": "You grade one answer", "reply": "no idea"}])
    run = grade()
    tracing.flush()

    rubric = judges.RUBRICS["relevance"]
    seed = f"judge:{answer.pk}:relevance:{rubric.version}:{run.judge_model}"
    judged = fake_langfuse.trace(tracing.trace_id_for(seed))
    assert judged.attributes["langfuse.observation.level"] == "ERROR"
    assert judged.metadata["asked"] == judges.MAX_ATTEMPTS
    # Each question to the judge is a ring request of its own, its attempts counted anew.
    assert [span.name for span in judged.children] == ["judge attempt 1"] * judges.MAX_ATTEMPTS
    assert fake_langfuse.scores() == []  # an error row has no score to push


def test_without_keys_nothing_is_sent_and_nothing_is_traced(
    auth_client, user, llm, settings, fake_langfuse
):
    settings.LANGFUSE_PUBLIC_KEY = settings.LANGFUSE_SECRET_KEY = ""
    settings.LANGFUSE_HOST = fake_langfuse.url
    answer = chat(auth_client, user, "hello there")
    grade()
    tracing.flush()
    assert answer.trace_id == ""
    assert EvaluationScore.objects.get(message=answer).trace_id == ""
    assert tracing.client.cache_info().currsize == 0
    assert fake_langfuse.requests == []

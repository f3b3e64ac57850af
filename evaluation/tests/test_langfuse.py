"""Langfuse: chat turns traced with user and session ids, judge scores pushed to the trace;
with no keys nothing is sent. Checked against a local fake Langfuse."""

import base64
import uuid
from datetime import timedelta

import pytest

from agents.models import ChatSession, Message
from agentsite import tracing
from evaluation import services
from evaluation.models import EvaluationScore
from evaluation.tests.fake_langfuse import FakeLangfuse

pytestmark = pytest.mark.django_db(transaction=True)

TRACES = "/api/public/otel/v1/traces"
SCORES = "/api/public/scores"


@pytest.fixture
def fake_langfuse():
    server = FakeLangfuse()
    yield server
    server.close()


@pytest.fixture
def langfuse_keys(settings, fake_langfuse):
    """Keys of our own per test: the SDK keeps one client per public key."""
    settings.LANGFUSE_PUBLIC_KEY = f"pk-lf-test-{uuid.uuid4().hex[:8]}"
    settings.LANGFUSE_SECRET_KEY = "sk-lf-test-secret"
    settings.LANGFUSE_HOST = fake_langfuse.url
    yield settings
    tracing.flush()


def chat(auth_client, user, content: str) -> Message:
    session = ChatSession.objects.create(owner=user)
    response = auth_client.post(
        f"/api/v1/sessions/{session.pk}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201
    return Message.objects.get(pk=response.json()["assistant_message"]["id"])


def grade(metrics=("relevance",)):
    run = services.create_run(trigger="command", since=timedelta(hours=1), metrics=list(metrics))
    for item_id in services.start_run(run.pk):
        services.grade_item(item_id)
    return run


def test_a_traced_turn_and_its_score_reach_langfuse(
    auth_client, user, llm, langfuse_keys, fake_langfuse
):
    answer = chat(auth_client, user, "hello there")
    assert answer.trace_id == tracing.trace_id_for(answer.pk)
    assert len(answer.trace_id) == 32
    grade()
    tracing.flush()

    auth = (
        "Basic "
        + base64.b64encode(
            f"{langfuse_keys.LANGFUSE_PUBLIC_KEY}:sk-lf-test-secret".encode()
        ).decode()
    )
    assert set(fake_langfuse.paths()) == {TRACES, SCORES}
    assert all(request.headers["authorization"] == auth for request in fake_langfuse.requests)

    spans = [s for r in fake_langfuse.requests if r.path == TRACES for s in r.spans()]
    assert {trace_id for trace_id, _, _ in spans} == {answer.trace_id}
    [root] = [attrs for _, name, attrs in spans if name == "LangGraph"]
    assert root["user.id"] == str(user.pk)
    assert root["session.id"] == str(answer.session_id)
    assert root["langfuse.trace.name"] == "chat-turn"
    [generation] = [attrs for _, name, attrs in spans if name == "ModelRing"]
    assert generation["langfuse.observation.type"] == "generation"

    [scores] = [r.json() for r in fake_langfuse.requests if r.path == SCORES]
    stored = EvaluationScore.objects.get(message=answer)
    assert scores == [
        {
            "id": f"agentsite-eval-{stored.pk}",
            "traceId": answer.trace_id,
            "name": "relevance",
            "value": 1.0,
            "comment": "simulated",
            "dataType": "NUMERIC",
            "timestamp": scores[0]["timestamp"],
        }
    ]
    assert stored.trace_id == answer.trace_id


def test_without_keys_nothing_is_sent_and_nothing_is_traced(
    auth_client, user, llm, settings, fake_langfuse
):
    settings.LANGFUSE_PUBLIC_KEY = settings.LANGFUSE_SECRET_KEY = ""
    settings.LANGFUSE_HOST = fake_langfuse.url
    answer = chat(auth_client, user, "hello there")
    grade()
    tracing.flush()
    assert answer.trace_id == ""
    assert tracing.chat_callbacks(answer_id=answer.pk, user_id=user.pk, session_id="s") == ([], {})
    assert EvaluationScore.objects.get(message=answer).trace_id == ""
    assert fake_langfuse.requests == []

"""Langfuse traces of chat turns, read back from the OTLP spans a local fake Langfuse receives:
one trace per turn with the memory search, every LLM attempt and every tool call under it; a
failing primary's attempts beside the fallback's; with no keys, nothing built or sent."""

import httpx
import pytest
from langchain_core.messages import HumanMessage
from rest_framework_simplejwt.tokens import RefreshToken

from agents import services as chat_services
from agents.llm import ModelRing
from agents.models import ChatSession, Message
from agents.sse import decode
from agentsite import tracing
from devtools.testing import api_turn as chat
from memory import services as memories
from memory.tests.conftest import extraction, say

pytestmark = pytest.mark.django_db(transaction=True)

PRIMARY, FALLBACK = "sim-primary", "sim-fallback"
QUESTION = "Where do I live, and what is 6*7?"  # a memory to find, a sum for the calculator


def remember(llm, user, fact: str) -> None:
    llm.set_rules([extraction("about me", fact)])
    memories.remember_message(say(user, "Something about me").pk)
    llm.set_rules([])


def test_a_turn_is_one_trace_of_its_memory_search_attempts_and_tools(
    auth_client, user, llm, langfuse_keys, fake_langfuse
):
    remember(llm, user, "User lives in Paris")
    answer = chat(auth_client, user, QUESTION)
    tracing.flush()

    root = fake_langfuse.trace(answer.trace_id)
    assert answer.trace_id == tracing.trace_id_for(answer.pk)
    assert (root.name, root.attributes["langfuse.trace.name"]) == ("chat-turn", "chat-turn")
    assert root.attributes["user.id"] == str(user.pk)
    assert root.attributes["session.id"] == str(answer.session_id)
    assert root.attributes["langfuse.observation.input"] == QUESTION
    assert root.attributes["langfuse.observation.output"] == "The result is 42."
    assert root.metadata == {"answer_id": str(answer.pk), "status": "complete"}

    search, first, tool, second = root.children
    assert (search.name, search.type) == ("memory-search", "retriever")
    assert search.metadata == {"query_chars": len(QUESTION), "hits": 1}
    # Each model call is a ring request of its own, its attempts counted from 1.
    assert [(g.name, g.type) for g in (first, second)] == [("chat attempt 1", "generation")] * 2
    assert first.metadata["ring_request_id"] != second.metadata["ring_request_id"]
    for generation in (first, second):
        assert generation.attributes["langfuse.observation.model.name"] == PRIMARY
        assert generation.metadata["outcome"] == "ok"
        assert generation.metadata["via"] == "first"
        assert generation.metadata["ttft_ms"] >= 0
        assert "langfuse.observation.completion_start_time" in generation.attributes
    assert second.usage()["output"] > 0
    assert (tool.name, tool.type) == ("tool calculator", "tool")
    assert tool.metadata == {"tool": "calculator", "outcome": "ok"}
    assert all(not span.children for span in root.children)

    # The memory text reached no span; the memory extraction is a trace of its own.
    assert not any("Paris" in str(span.attributes) for span in fake_langfuse.spans())
    [memory] = [span for span in fake_langfuse.spans() if span.name == "memory"]
    assert memory.attributes["user.id"] == str(user.pk)
    extraction_trace = fake_langfuse.trace(memory.trace_id)
    assert [span.name for span in extraction_trace.children] == ["memory attempt 1"]


def test_a_streamed_turn_is_traced_and_sent_when_the_server_stops(
    asgi_server, llm, user, fake_langfuse
):
    keys = {"LANGFUSE_PUBLIC_KEY": "pk-lf-live", "LANGFUSE_SECRET_KEY": "sk-lf-live"}
    server = asgi_server(
        env={"LLM_BASE_URL": llm.base_url, "LANGFUSE_HOST": fake_langfuse.url, **keys}
    )
    session = ChatSession.objects.create(owner=user)
    with httpx.stream(
        "POST",
        f"{server.url}/api/v1/sessions/{session.pk}/stream",
        json={"content": "what is 6*7"},
        headers={"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"},
        timeout=30,
    ) as response:
        events = list(decode(response.iter_lines()))
    assert events[-1][0] == "done", events
    server.stop()  # its lifespan's shutdown sends what the SDK still holds

    answer = Message.objects.get(pk=events[-1][1]["assistant_message_id"])
    root = fake_langfuse.trace(answer.trace_id)
    # An `auto` session: the supervisor's routing call, then the general assistant's.
    assert [span.name for span in root.children] == [
        "memory-search",
        "routing attempt 1",
        "chat attempt 1",
        "tool calculator",
        "chat attempt 1",
    ]
    streamed = [span for span in root.children if span.type == "generation"]
    assert all("langfuse.observation.completion_start_time" in s.attributes for s in streamed)


def test_a_failing_primary_leaves_its_attempts_beside_the_fallback(
    auth_client, user, llm, langfuse_keys, fake_langfuse
):
    langfuse_keys.LLM_POLICY = {**langfuse_keys.LLM_POLICY, "max_retries": 1}
    llm.set_faults(PRIMARY, {"kind": "status_429", "retry_after": 0})
    answer = chat(auth_client, user, "hello there")
    tracing.flush()

    root = fake_langfuse.trace(answer.trace_id)
    attempts = [span for span in root.children if span.type == "generation"]
    seen = [
        (
            span.attributes["langfuse.observation.model.name"],
            span.metadata["via"],
            span.metadata["outcome"],
            span.metadata.get("failure"),
            span.attributes.get("langfuse.observation.level"),
        )
        for span in attempts
    ]
    assert seen == [
        (PRIMARY, "first", "failed", "rate_limited", "ERROR"),
        (PRIMARY, "retry", "failed", "rate_limited", "ERROR"),
        (FALLBACK, "fallback", "ok", None, None),
    ]
    assert attempts[2].metadata["fallback_from"] == PRIMARY
    assert [span.name for span in attempts] == [f"chat attempt {n}" for n in (1, 2, 3)]
    assert answer.model == FALLBACK


def test_a_failed_turn_is_an_error_trace(auth_client, user, llm, langfuse_keys, fake_langfuse):
    llm.set_faults("*", {"kind": "status_400", "code": "context_length_exceeded"})
    answer = chat(auth_client, user, "hello there")
    tracing.flush()

    root = fake_langfuse.trace(answer.trace_id)
    assert root.attributes["langfuse.observation.level"] == "ERROR"
    assert root.metadata["status"] == "failed"
    [attempt] = [span for span in root.children if span.type == "generation"]
    assert attempt.metadata["failure"] == "context_length"


def test_a_failing_tool_is_an_error_span(auth_client, user, llm, langfuse_keys, fake_langfuse):
    divide = {"name": "calculator", "arguments": {"expression": "1/0"}}
    llm.set_rules([{"match": "divide by nothing", "tool_calls": [divide]}])
    answer = chat(auth_client, user, "divide by nothing")
    tracing.flush()

    [tool] = [span for span in fake_langfuse.trace(answer.trace_id).children if span.type == "tool"]
    assert tool.attributes["langfuse.observation.level"] == "ERROR"
    assert tool.metadata == {"tool": "calculator", "outcome": "error"}
    assert answer.status == Message.Status.COMPLETE  # the model heard of it and answered


def test_a_title_is_a_trace_of_its_attempts(auth_client, user, llm, langfuse_keys, fake_langfuse):
    answer = chat(auth_client, user, "hello there")
    chat_services.title_session(answer.session_id)
    tracing.flush()

    [title] = [span for span in fake_langfuse.spans() if span.name == "title"]
    assert title.attributes["session.id"] == str(answer.session_id)
    [attempt] = fake_langfuse.trace(title.trace_id).children
    assert (attempt.name, attempt.type, attempt.metadata["purpose"]) == (
        "title attempt 1",
        "generation",
        "title",
    )


def test_a_ring_call_outside_any_trace_is_not_traced(llm, langfuse_keys, fake_langfuse):
    ModelRing(purpose="title").invoke([HumanMessage("hello there")])
    tracing.flush()
    assert fake_langfuse.requests == []


def test_without_keys_nothing_is_built_or_sent(auth_client, user, llm, settings, fake_langfuse):
    settings.LANGFUSE_PUBLIC_KEY = settings.LANGFUSE_SECRET_KEY = ""
    settings.LANGFUSE_HOST = fake_langfuse.url
    remember(llm, user, "User lives in Paris")
    answer = chat(auth_client, user, "what is 6*7")
    tracing.flush()

    assert answer.trace_id == ""
    assert tracing.client.cache_info().currsize == 0  # no client, hence no SDK thread
    assert fake_langfuse.requests == []

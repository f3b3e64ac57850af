"""The read path through a real chat turn (uvicorn, the simulator as models): what a person
said in session 1 is in the prompt of session 2 and changes the answer; the agent's
recall_memory tool; and neither ever shows another person's memories."""

import ast
import json

import pytest
import redis
from django.conf import settings

from agents import services as chat
from agents.graph.general import prompts
from agents.models import Message
from devtools.testing import stream_turn
from evaluation.selectors import judge_input
from memory import tasks
from memory.tests.conftest import extraction

pytestmark = pytest.mark.django_db(transaction=True)

KNOWS_PARIS = {"match": "where do I live", "system": "lives in Paris", "reply": "In Paris."}
RECALL = {
    "match": "check your memory",
    "tool_calls": [{"name": "recall_memory", "arguments": {"query": "where the person lives"}}],
}


@pytest.fixture
def server(asgi_server, llm):
    return asgi_server(env={"LLM_BASE_URL": llm.base_url})


def answer(server, user, content: str) -> tuple[str, list]:
    """One turn in a new session: the answer's text and the stream's events."""
    events = stream_turn(server, user, chat.create_session(owner=user), content)
    assert events[-1][0] == "done", events
    return "".join(data["text"] for name, data in events if name == "token"), events


def queued_memory_tasks() -> list[str]:
    """The message ids of the memory tasks waiting in the Celery queue (Valkey)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    queued = [json.loads(raw)["headers"] for raw in client.lrange("celery", 0, -1)]
    return [
        ast.literal_eval(headers["argsrepr"])[0]
        for headers in queued
        if headers["task"] == "memory.tasks.remember_message"
    ]


@pytest.fixture
def ada_lives_in_paris(server, llm, make_user):
    """Session 1: Ada says where she lives; the turn queues the memory task, which runs."""
    ada = make_user("ada@example.com")
    llm.set_rules([extraction("I live in Paris", "User lives in Paris"), KNOWS_PARIS, RECALL])
    _, events = answer(server, ada, "Hi, I live in Paris.")
    (message_id,) = queued_memory_tasks()
    assert message_id == events[0][1]["user_message_id"]
    assert tasks.remember_message(message_id) == ["User lives in Paris"]
    return ada


def test_a_fact_from_session_one_is_in_the_prompt_of_session_two(server, llm, ada_lives_in_paris):
    text, events = answer(server, ada_lives_in_paris, "Where do I live?")
    assert text == "In Paris."
    # The fixed system prompt first (a prefix cache keeps it), the memories just before the
    # question they were found for.
    first, context, question = llm.stats()["models"]["sim-primary"]["last_request"]["messages"]
    assert first == {"role": "system", "content": prompts.SYSTEM_PROMPT}
    assert context["role"] == "system"
    assert "- User lives in Paris" in context["content"]
    assert question == {"role": "user", "content": "Where do I live?"}
    # Kept with the answer, so the hallucination judge checks claims against them too.
    answer_row = Message.objects.get(pk=events[-1][1]["assistant_message_id"])
    assert answer_row.memories == ["User lives in Paris"]
    assert judge_input(answer_row).memories == ["User lives in Paris"]


def test_another_persons_prompt_never_holds_it(server, ada_lives_in_paris, make_user):
    text, _ = answer(server, make_user("bob@example.com"), "Where do I live?")
    assert text != "In Paris."
    assert text.startswith("You said: Where do I live?")


def test_recall_memory_finds_the_persons_own_memories_only(server, ada_lives_in_paris, make_user):
    _, events = answer(server, ada_lives_in_paris, "Please check your memory")
    (result,) = [data for name, data in events if name == "tool_result"]
    assert result["name"] == "recall_memory"
    assert "<memories>\n- User lives in Paris\n</memories>" in result["content"]  # as data
    _, events = answer(server, make_user("bob@example.com"), "Please check your memory")
    (result,) = [data for name, data in events if name == "tool_result"]
    assert result["content"] == "Nothing remembered about that."


def test_a_memory_outage_never_fails_the_turn(server, llm, make_user, settings):
    """With the memory table gone missing, the turn still answers (without memories)."""
    from django.db import connection

    user = make_user("carol@example.com")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE memories RENAME TO memories_away")
    try:
        text, _ = answer(server, user, "hello there")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE memories_away RENAME TO memories")
    assert text.startswith("You said: hello there")

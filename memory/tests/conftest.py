"""Memory test helpers: the simulator scripted to answer Mem0's prompts, people's messages,
and clean memory tables (Django's flush leaves unmanaged tables alone)."""

import json
import re

import pytest

from agents import services as chat


@pytest.fixture(autouse=True)
def _empty_memory_tables(django_db_setup, django_db_blocker):
    """After each test; on the test database even for tests that asked for none."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM memories; DELETE FROM memories_entities")


def extraction(said: str, *facts: str) -> dict:
    """A simulator rule: Mem0's extraction prompt for a message containing `said` answers
    with `facts`."""
    memory = [{"id": str(number), "text": fact} for number, fact in enumerate(facts)]
    reply = json.dumps({"memory": memory})
    return {"match": r"## New Messages.*" + re.escape(said), "reply": reply}


def decision(new_fact: str, *events: dict) -> dict:
    """A simulator rule: Mem0's update prompt about `new_fact` answers with `events`."""
    return {
        "match": r"new retrieved facts.*" + re.escape(new_fact),
        "reply": json.dumps({"memory": list(events)}),
    }


def say(user, text: str, session=None):
    """The person's message in a session (a new one unless given), saved as a turn saves it."""
    session = session or chat.create_session(owner=user)
    asked, _ = chat.open_turn(user, session.pk, text, request_id="")
    return asked

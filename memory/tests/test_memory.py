"""The write path, search and forgetting, on the real Postgres + pgvector, with the simulator
answering Mem0's prompts."""

import pytest
from django.db import connection
from django.http import Http404
from mem0.configs.prompts import ADDITIVE_EXTRACTION_PROMPT, DEFAULT_UPDATE_MEMORY_PROMPT

from memory import prompts, selectors, services, tasks
from memory.models import Memory
from memory.tests.conftest import decision, extraction, say

pytestmark = pytest.mark.django_db(transaction=True)


# Paris, then Berlin: the update replaces the earlier memory and drops the new duplicate.
MOVED_TO_BERLIN = [
    extraction("I live in Paris", "User lives in Paris"),
    extraction("I moved to Berlin", "User lives in Berlin"),
    decision(
        "User lives in Berlin",
        {"id": "0", "text": "User lives in Berlin", "event": "UPDATE"},
        {"id": "1", "text": "User lives in Berlin", "event": "DELETE"},
    ),
]


def memories(user) -> list[str]:
    return sorted(memory.text for memory in selectors.memories_of(user.pk))


class TestWritePath:
    def test_facts_from_the_persons_message_are_remembered_with_their_source(self, llm, user):
        llm.set_rules([extraction("I live in Paris", "User lives in Paris")])
        message = say(user, "Hello! I live in Paris and I love cycling.")
        assert services.remember_message(message.pk) == ["User lives in Paris"]
        (memory,) = selectors.memories_of(user.pk)
        assert memory.user_id == str(user.pk)
        assert memory.payload["source_message_id"] == str(message.pk)
        assert memory.source_session_id == str(message.session_id)
        assert memory.created_at is not None

    def test_a_message_is_learned_from_once(self, llm, user):
        llm.set_rules([extraction("I live in Paris", "User lives in Paris")])
        message = say(user, "I live in Paris")
        services.remember_message(message.pk)
        services.remember_message(message.pk)
        assert memories(user) == ["User lives in Paris"]

    def test_nothing_worth_remembering_stores_nothing(self, llm, user):
        services.remember_message(say(user, "What is 2 + 2?").pk)
        assert memories(user) == []

    def test_a_changed_fact_updates_the_old_memory(self, llm, user):
        llm.set_rules(MOVED_TO_BERLIN)
        services.remember_message(say(user, "I live in Paris").pk)
        (before,) = selectors.memories_of(user.pk)
        moved = say(user, "I moved to Berlin last month")
        services.remember_message(moved.pk)
        (after,) = selectors.memories_of(user.pk)
        assert after.pk == before.pk
        assert after.text == "User lives in Berlin"
        assert after.created_at == before.created_at
        assert after.updated_at > before.updated_at
        assert after.payload["source_message_id"] == str(moved.pk)

    def test_the_task_retried_after_an_llm_outage_stores_the_memory_once(self, llm, user, settings):
        # Eager retries come at once: keep the breakers shut so the second run reaches a model.
        settings.LLM_POLICY = {**settings.LLM_POLICY, "breaker_threshold": 100}
        llm.set_rules([extraction("I live in Paris", "User lives in Paris")])
        # The first run's every attempt fails on both models (3 tries each); then they recover.
        llm.set_faults("*", {"kind": "status_500", "fail_times": 3})
        message = say(user, "I live in Paris")
        result = tasks.remember_message.apply(args=[str(message.pk)])
        assert result.successful(), result.traceback
        assert memories(user) == ["User lives in Paris"]
        assert llm.stats()["total"]["outcomes"]["status_500"] == 6
        assert result.result == ["User lives in Paris"]


class TestSearch:
    def test_the_relevant_memory_comes_first(self, llm, user):
        llm.set_rules(
            [extraction("about me", "User lives in Paris", "User is vegetarian", "User has a cat")]
        )
        services.remember_message(say(user, "Some facts about me").pk)
        hits = selectors.search(user.pk, "What should I cook for dinner?")
        assert hits[0]["memory"] == "User is vegetarian"

    def test_a_persons_memory_is_found_among_many_other_peoples(self, llm, make_user):
        """The per-person index: an HNSW scan alone would filter after taking the nearest rows
        of everyone, and miss a person with few memories."""
        user = make_user("few@example.com")
        llm.set_rules([extraction("I live in Paris", "User lives in Paris")])
        services.remember_message(say(user, "I live in Paris").pk)
        with connection.cursor() as cursor:  # 3000 memories of 300 others, all about Paris
            cursor.execute(
                "INSERT INTO memories (id, vector, payload) "
                "SELECT gen_random_uuid(), m.vector, jsonb_build_object("
                "'user_id', 'other-' || (n % 300), 'data', 'Someone lives in Paris') "
                "FROM memories m, generate_series(1, 3000) n"
            )
            cursor.execute("ANALYZE memories")
        hits = selectors.search(user.pk, "Where do I live?")
        assert [hit["memory"] for hit in hits] == ["User lives in Paris"]


class TestForgetting:
    def test_forget_all_empties_the_table_for_that_person_only(self, llm, make_user):
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        llm.set_rules([extraction("I live in", "User lives somewhere")])
        services.remember_message(say(ada, "I live in Paris").pk)
        services.remember_message(say(bob, "I live in Rome").pk)
        assert services.forget_all(ada.pk) == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT payload->>'user_id' FROM memories")
            assert cursor.fetchall() == [(str(bob.pk),)]

    def test_one_cannot_delete_anothers_memory(self, llm, make_user):
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        llm.set_rules([extraction("I live in Rome", "User lives in Rome")])
        services.remember_message(say(bob, "I live in Rome").pk)
        (bobs,) = Memory.objects.all()
        with pytest.raises(Http404):
            services.delete_memory(ada.pk, bobs.pk)
        services.delete_memory(bob.pk, bobs.pk)
        assert not Memory.objects.exists()


JSON_MODE = {"type": "json_object"}


def sent(llm) -> dict:
    """The body of the ring's last request (the first model answers when all is well)."""
    return llm.stats()["models"]["sim-primary"]["last_request"]


class TestPrompts:
    """Mem0's JSON mode reaches the model; a local model gets the compact prompts."""

    def test_the_extraction_asks_for_json_with_mem0s_own_prompt(self, llm, user):
        llm.set_rules([extraction("I live in Paris", "User lives in Paris")])
        services.remember_message(say(user, "I live in Paris").pk)
        request = sent(llm)
        assert request["response_format"] == JSON_MODE
        assert request["messages"][0] == {"role": "system", "content": ADDITIVE_EXTRACTION_PROMPT}

    def test_a_local_model_gets_the_compact_extraction_prompt(self, llm, user, settings):
        settings.LLM_LOCAL = True
        llm.set_rules([extraction("My name is Ada", "User's name is Ada")])
        services.remember_message(say(user, "My name is Ada and I love sailing.").pk)
        assert memories(user) == ["User's name is Ada"]
        system, task = sent(llm)["messages"]
        assert system == {"role": "system", "content": prompts.EXTRACTION_PROMPT}
        assert "My name is Ada" in task["content"]
        assert sent(llm)["response_format"] == JSON_MODE

    def test_a_local_model_is_not_asked_about_a_question(self, llm, user, settings):
        """A small model makes "User is 17*23" of "What is 17*23?" (memory/statements.py)."""
        settings.LLM_LOCAL = True
        llm.set_rules([extraction("What is 17*23", "User is 17*23")])
        assert services.remember_message(say(user, "What is 17*23?").pk) == []
        assert llm.stats()["total"]["requests"] == 0
        settings.LLM_LOCAL = False
        assert services.remember_message(say(user, "What is 17*23?").pk) == ["User is 17*23"]

    @pytest.mark.parametrize("local", [False, True])
    def test_the_update_asks_for_json_and_is_compact_on_a_local_model(
        self, llm, user, settings, local
    ):
        settings.LLM_LOCAL = local
        llm.set_rules(MOVED_TO_BERLIN)
        services.remember_message(say(user, "I live in Paris").pk)
        services.remember_message(say(user, "I moved to Berlin").pk)
        assert memories(user) == ["User lives in Berlin"]
        request = sent(llm)
        assert request["response_format"] == JSON_MODE
        (update,) = request["messages"]
        assert (prompts.UPDATE_PROMPT in update["content"]) is local
        assert (DEFAULT_UPDATE_MEMORY_PROMPT in update["content"]) is not local

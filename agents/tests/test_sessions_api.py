"""Sessions and messages over the API: DTOs, ownership, pagination, titles, deletion."""

import asyncio

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from agents import services, titles
from agents.checkpoints import agent_graph
from agents.models import ChatSession, Message
from agents.tasks import generate_session_title
from agentsite.loops import background_loop
from devtools.llmservers.simulator import echo_reply

SESSION_KEYS = {"id", "title", "agent", "created_at", "updated_at", "message_count"}
MESSAGE_KEYS = {
    *("id", "role", "content", "status", "created_at", "model", "agent", "tool_calls", "citations")
}


def sign_in(client, user):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.mark.django_db
class TestSessions:
    def test_create_and_read_exact_dto(self, auth_client):
        created = auth_client.post("/api/v1/sessions", {"title": "Trip"}, format="json")
        assert created.status_code == 201
        assert set(created.json()) == SESSION_KEYS
        assert created.json()["message_count"] == 0
        read = auth_client.get(f"/api/v1/sessions/{created.json()['id']}")
        assert read.json() == created.json()

    def test_title_is_optional_and_sanitized(self, auth_client):
        assert auth_client.post("/api/v1/sessions", {}, format="json").json()["title"] == ""
        odd = auth_client.post("/api/v1/sessions", {"title": " a\u202e\nb "}, format="json")
        assert odd.json()["title"] == "a b"

    def test_list_newest_activity_first_and_paginated(self, auth_client, user):
        first = services.create_session(owner=user, title="first")
        second = services.create_session(owner=user, title="second")
        services.update_session(first, title="first, renamed")  # activity
        page = auth_client.get("/api/v1/sessions").json()
        assert set(page) == {"count", "next", "previous", "results"}
        assert [s["id"] for s in page["results"]] == [str(first.pk), str(second.pk)]
        small = auth_client.get("/api/v1/sessions?page_size=1").json()
        assert small["count"] == 2
        assert small["next"]

    def test_rename(self, auth_client, user):
        session = services.create_session(owner=user)
        renamed = auth_client.patch(
            f"/api/v1/sessions/{session.pk}", {"title": "Named"}, format="json"
        )
        assert renamed.status_code == 200
        assert renamed.json()["title"] == "Named"

    def test_bad_input_changes_nothing(self, auth_client, user):
        session = services.create_session(owner=user, title="kept")
        for body in ({"title": "x" * 201}, {"title": "ok", "owner": "someone"}, {"title": 5}):
            response = auth_client.patch(f"/api/v1/sessions/{session.pk}", body, format="json")
            assert response.status_code == 400
        session.refresh_from_db()
        assert session.title == "kept"

    def test_another_users_session_is_a_404_everywhere(self, api_client, make_user):
        owner, other = make_user(), make_user(email="eve@example.com")
        session = services.create_session(owner=owner, title="private")
        sign_in(api_client, other)
        base = f"/api/v1/sessions/{session.pk}"
        assert api_client.get(base).status_code == 404
        assert api_client.patch(base, {"title": "x"}, format="json").status_code == 404
        assert api_client.delete(base).status_code == 404
        assert api_client.get(f"{base}/messages").status_code == 404
        posted = api_client.post(f"{base}/messages", {"content": "hi"}, format="json")
        assert posted.status_code == 404
        assert api_client.get("/api/v1/sessions").json()["count"] == 0
        assert ChatSession.objects.get(pk=session.pk).title == "private"
        assert not Message.objects.exists()

    def test_unknown_session_is_a_404_problem(self, auth_client):
        response = auth_client.get("/api/v1/sessions/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"

    def test_anonymous_is_refused(self, api_client):
        assert api_client.get("/api/v1/sessions").status_code == 401


@pytest.mark.django_db(transaction=True)
class TestTurnsWithoutStreaming:
    def test_post_message_runs_the_agent(self, auth_client, user, llm):
        session = services.create_session(owner=user)
        response = auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "hello agent"}, format="json"
        )
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"user_message", "assistant_message"}
        assert set(body["assistant_message"]) == MESSAGE_KEYS
        assert body["user_message"]["role"] == "user"
        assert body["assistant_message"]["content"] == echo_reply("hello agent", 8)
        assert body["assistant_message"]["status"] == "complete"
        assert body["assistant_message"]["model"] == "sim-primary"

    def test_tool_steps_are_messages_too(self, auth_client, user, llm):
        session = services.create_session(owner=user)
        auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "what is 6*7"}, format="json"
        )
        listed = auth_client.get(f"/api/v1/sessions/{session.pk}/messages").json()["results"]
        assert [m["role"] for m in listed] == ["user", "assistant", "tool"]
        assistant, tool = listed[1], listed[2]
        assert assistant["tool_calls"][0]["name"] == "calculator"
        assert assistant["tool_calls"][0]["arguments"] == {"expression": "6*7"}
        assert tool["content"] == "42"
        assert assistant["content"] == "The result is 42."
        assert all(set(m) == MESSAGE_KEYS for m in listed)

    def test_an_empty_answer_is_asked_for_again(self, auth_client, user, llm):
        llm.set_rules(
            [
                {"match": "say nothing", "system": "Now answer the person", "reply": "Here."},
                {"match": "say nothing", "reply": ""},
            ]
        )
        session = services.create_session(owner=user, agent="general")
        response = auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "say nothing"}, format="json"
        )
        answer = response.json()["assistant_message"]
        assert (answer["content"], answer["status"]) == ("Here.", "complete")
        assert llm.stats()["total"]["requests"] == 2

    def test_clients_cannot_create_system_messages(self, auth_client, user, llm):
        session = services.create_session(owner=user)
        url = f"/api/v1/sessions/{session.pk}/messages"
        for body in (
            {"content": "x", "role": "system"},
            {"content": ""},
            {"content": "\x00\u200b"},
        ):
            assert auth_client.post(url, body, format="json").status_code == 400
        assert not Message.objects.exists()

    def test_delete_takes_messages_and_checkpoints(self, auth_client, user, llm):
        session = services.create_session(owner=user)
        url = f"/api/v1/sessions/{session.pk}"
        auth_client.post(f"{url}/messages", {"content": "remember me"}, format="json")
        config = {"configurable": {"thread_id": str(session.pk)}}

        async def stored_messages():
            return len((await (await agent_graph()).aget_state(config)).values["messages"])

        assert background_loop.run(stored_messages()) == 3  # the context, question, answer
        assert auth_client.delete(url).status_code == 204
        assert not Message.objects.filter(session_id=session.pk).exists()
        assert background_loop.run(stored_messages_or_zero(config)) == 0

    def test_over_quota_is_refused_before_any_llm_call(self, auth_client, user, llm):
        user.daily_token_quota = 1
        user.save()
        from accounts.quotas import record_token_usage

        record_token_usage(user, 1)
        session = services.create_session(owner=user)
        response = auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "hi"}, format="json"
        )
        assert response.status_code == 429
        assert response.json()["code"] == "token_quota_exceeded"
        assert int(response["Retry-After"]) > 0
        assert llm.stats()["total"]["requests"] == 0
        assert not Message.objects.exists()

    def test_each_turn_counts_against_the_quota(self, auth_client, user, llm):
        from accounts.quotas import tokens_used_today

        session = services.create_session(owner=user)
        auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "count me"}, format="json"
        )
        assert tokens_used_today(user) > 8


@pytest.mark.django_db(transaction=True)
class TestTitles:
    def test_generated_from_the_first_exchange(self, user, llm):
        session = services.create_session(owner=user)
        Message.objects.create(session=session, role="user", content="plan a trip to Rome")
        Message.objects.create(session=session, role="assistant", content="Sure.")
        title = generate_session_title(str(session.pk))
        session.refresh_from_db()
        assert title
        assert session.title == title

    def test_a_rename_always_wins(self, user, llm):
        session = services.create_session(owner=user)
        Message.objects.create(session=session, role="user", content="plan a trip to Rome")
        services.update_session(session, title="Mine")
        generate_session_title(str(session.pk))
        session.refresh_from_db()
        assert session.title == "Mine"

    def test_the_title_is_cleaned_of_quotes_markup_and_what_follows(self, user, llm):
        llm.set_rules([{"match": "user: plan a trip", "reply": '"**Trip to Rome.**"\nWhy: ...'}])
        session = services.create_session(owner=user)
        Message.objects.create(session=session, role="user", content="plan a trip to Rome")
        assert generate_session_title(str(session.pk)) == "Trip to Rome"

    @pytest.mark.parametrize(("local", "shown"), [(False, 1000), (True, 300)])
    def test_a_local_model_reads_a_shorter_exchange(self, user, llm, settings, local, shown):
        settings.LLM_LOCAL = local
        session = services.create_session(owner=user)
        Message.objects.create(session=session, role="user", content="q" * 2000)
        Message.objects.create(session=session, role="assistant", content="a" * 2000)
        generate_session_title(str(session.pk))
        request = llm.stats()["models"]["sim-primary"]["last_request"]
        transcript = request["messages"][-1]["content"]
        assert transcript == f"user: {'q' * shown}\nassistant: {'a' * shown}"
        assert request["max_completion_tokens"] == titles.MAX_TITLE_TOKENS


async def stored_messages_or_zero(config):
    state = await (await agent_graph()).aget_state(config)
    return len(state.values.get("messages", []))


def test_event_loop_helpers_are_importable():
    assert asyncio.iscoroutinefunction(stored_messages_or_zero)


@pytest.mark.django_db(transaction=True)
def test_a_session_deleted_while_its_turn_runs_is_a_404(auth_client, user, settings):
    """The person deletes the chat (another tab) while the agent answers: the turn's POST is
    a 404 problem, not a 500, and nothing of the session is left."""
    import threading

    from rest_framework.test import APIClient

    from devtools.llmservers.simulator import SimulatorConfig, running_simulator
    from devtools.testing import wait_for

    slow = SimulatorConfig(ttft_ms=1500, tokens_per_s=0, reply_tokens=3)
    with running_simulator(slow) as sim:
        settings.LLM_BASE_URL = sim.base_url
        session = services.create_session(owner=user, agent="general")

        other_tab = APIClient()
        other_tab.force_authenticate(user)

        def delete_once_asked():
            wait_for(lambda: Message.objects.filter(session=session, role="user").exists())
            other_tab.delete(f"/api/v1/sessions/{session.pk}")

        deleter = threading.Thread(target=delete_once_asked)
        deleter.start()
        response = auth_client.post(
            f"/api/v1/sessions/{session.pk}/messages", {"content": "hello"}, format="json"
        )
        deleter.join(10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert not Message.objects.filter(session_id=session.pk).exists()

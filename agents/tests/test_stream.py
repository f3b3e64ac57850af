"""The SSE endpoint over real HTTP: uvicorn serving agentsite.asgi, the LLM simulator as models.

Tests write users and sessions the server must see, so they commit (transaction=True).
"""

import threading
from datetime import UTC, datetime

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from rest_framework_simplejwt.tokens import RefreshToken

from agents import checkpoints, services
from agents.graph import prompts
from agents.models import LLMCall, Message
from agents.sse import decode
from agentsite.loops import background_loop
from devtools.llmservers.simulator import SimulatorConfig, echo_reply, running_simulator
from devtools.testing import bearer as auth
from devtools.testing import stream_turn as stream
from devtools.testing import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(asgi_server, llm):
    return asgi_server(env={"LLM_BASE_URL": llm.base_url, "SSE_HEARTBEAT_SECONDS": "15"})


def names(events):
    """Event names, a run of token events counted as one (busy servers join queued text)."""
    shape = []
    for name, _ in events:
        if name != "ping" and not (name == "token" and shape[-1:] == ["token"]):
            shape.append(name)
    return shape


class TestStream:
    def test_tokens_in_order_then_done(self, server, user):
        session = services.create_session(owner=user, agent="general")
        events = stream(server, user, session, "hello there")
        assert names(events) == ["start", "agent", "token", "done"]
        start, done = events[0][1], events[-1][1]
        assert set(start) == {"session_id", "user_message_id", "assistant_message_id"}
        text = "".join(data["text"] for name, data in events if name == "token")
        assert text == echo_reply("hello there", 8)
        assert done["assistant_message_id"] == start["assistant_message_id"]
        assert done["model"] == "sim-primary"
        assert done["usage"]["completion_tokens"] == 8
        answer = Message.objects.get(pk=start["assistant_message_id"])
        assert (answer.status, answer.content, answer.model) == ("complete", text, "sim-primary")

    def test_event_ids_are_a_sequence(self, server, user):
        session = services.create_session(owner=user)
        with httpx.stream(
            "POST",
            f"{server.url}/api/v1/sessions/{session.pk}/stream",
            json={"content": "count"},
            headers=auth(user),
        ) as response:
            ids = [int(line[3:]) for line in response.iter_lines() if line.startswith("id:")]
        assert ids == list(range(1, len(ids) + 1))

    def test_tool_call_and_result(self, server, user):
        session = services.create_session(owner=user, agent="general")
        events = stream(server, user, session, "what is 2+3*4")
        assert names(events) == ["start", "agent", "tool_call", "tool_result", "token", "done"]
        call, result = events[2][1], events[3][1]
        assert (call["name"], call["arguments"]) == ("calculator", {"expression": "2+3*4"})
        assert result == {"id": call["id"], "name": "calculator", "content": "14"}
        assert "".join(d["text"] for n, d in events if n == "token") == "The result is 14."

    def test_two_tools_in_one_answer(self, server, user):
        session = services.create_session(owner=user)
        events = stream(server, user, session, "what is 2+2 and what time is it in Tokyo")
        calls = [data["name"] for name, data in events if name == "tool_call"]
        results = [data["name"] for name, data in events if name == "tool_result"]
        assert sorted(calls) == sorted(results) == ["calculator", "current_time"]

    def test_fallback_is_reported(self, server, user, llm):
        llm.set_faults("sim-primary", {"kind": "status_500"})
        session = services.create_session(owner=user)
        events = stream(server, user, session)
        assert events[1] == (
            "fallback",
            {"from_model": "sim-primary", "to_model": "sim-fallback", "reason": "server_error"},
        )
        assert events[-1][1]["model"] == "sim-fallback"

    def test_every_model_down_ends_with_one_error(self, server, user, llm):
        llm.set_faults("*", {"kind": "status_500"})
        session = services.create_session(owner=user)
        events = stream(server, user, session)
        assert names(events)[-1] == "error"
        assert names(events).count("error") == 1
        assert "done" not in names(events)
        error = events[-1][1]
        assert error["code"] == "llm_unavailable"
        assert set(error) == {"code", "detail", "request_id"}
        assert Message.objects.get(role="assistant").status == "failed"

    def test_a_conversation_longer_than_the_context_is_a_clear_refusal(self, asgi_server, user):
        """Every model refuses the prompt as too long: one `llm_request_rejected` error saying
        what to do, the answer `failed`, and no model asked twice (a 400 is never retried)."""
        small = SimulatorConfig(ttft_ms=0, tokens_per_s=0, reply_tokens=3, context_window=400)
        with running_simulator(small) as sim:
            server = asgi_server(env={"LLM_BASE_URL": sim.base_url})
            session = services.create_session(owner=user)
            events = stream(server, user, session, "word " * 500)
            requests = sim.stats()["total"]["requests"]
        assert names(events) == ["start", "error"]
        error = events[-1][1]
        assert error["code"] == "llm_request_rejected"
        assert "too long" in error["detail"]
        assert Message.objects.get(role="assistant").status == "failed"
        assert requests == 1

    def test_heartbeats_while_the_model_is_silent(self, asgi_server, llm, user):
        slow = SimulatorConfig(ttft_ms=1500, tokens_per_s=0, reply_tokens=3)
        with running_simulator(slow) as sim:
            server = asgi_server(env={"LLM_BASE_URL": sim.base_url, "SSE_HEARTBEAT_SECONDS": "0.3"})
            session = services.create_session(owner=user)
            events = stream(server, user, session)
        first_token = next(i for i, (name, _) in enumerate(events) if name == "token")
        assert "ping" in [name for name, _ in events[:first_token]]


def checkpointed_messages(session) -> list[tuple[str, str]]:
    async def read():
        graph = await checkpoints.agent_graph()
        return await graph.aget_state({"configurable": {"thread_id": str(session.pk)}})

    state = background_loop.run(read())
    return [(message.type, message.content) for message in state.values.get("messages", [])]


class TestDisconnect:
    def test_client_leaving_keeps_the_partial_answer_as_interrupted(self, asgi_server, user):
        slow = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=200)
        with running_simulator(slow) as sim:
            server = asgi_server(env={"LLM_BASE_URL": sim.base_url})
            session = services.create_session(owner=user)
            received = []
            with httpx.stream(
                "POST",
                f"{server.url}/api/v1/sessions/{session.pk}/stream",
                json={"content": "tell me a long story"},
                headers=auth(user),
            ) as response:
                for name, data in decode(response.iter_lines()):
                    if name == "token":
                        received.append(data["text"])
                    if len(received) == 5:
                        break
            answer = Message.objects.get(role="assistant")
            assert wait_for(lambda: Message.objects.get(pk=answer.pk).status == "interrupted")
            assert wait_for(lambda: sim.stats()["active"] == 0)  # generation stopped
        answer.refresh_from_db()
        full = echo_reply("tell me a long story", 200)
        assert answer.content.startswith("".join(received))
        assert full.startswith(answer.content)
        assert len(answer.content) < len(full)
        assert wait_for(lambda: LLMCall.objects.filter(status="interrupted").exists())
        # The agent's state holds the question (after its context) and the cut-off answer,
        # for the next turn.
        assert wait_for(
            lambda: (
                [kind for kind, _ in checkpointed_messages(session)] == ["system", "human", "ai"]
            )
        )
        assert checkpointed_messages(session)[1:] == [
            ("human", "tell me a long story"),
            ("ai", answer.content),
        ]


class TestRefusals:
    def post(self, server, session_id, body=None, headers=None, **kwargs):
        return httpx.post(
            f"{server.url}/api/v1/sessions/{session_id}/stream",
            headers=headers or {},
            timeout=10,
            **({"json": {"content": "hi"}} if body is None else body),
            **kwargs,
        )

    @staticmethod
    def assert_problem(response, status, code=None):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        if code:
            assert response.json()["code"] == code

    def test_anonymous(self, server, user):
        session = services.create_session(owner=user)
        response = self.post(server, session.pk)
        self.assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    def test_bad_tokens(self, server, user):
        session = services.create_session(owner=user)
        refresh = str(RefreshToken.for_user(user))
        for token in ("garbage", refresh, str(RefreshToken.for_user(user).access_token) + "x"):
            response = self.post(server, session.pk, headers={"Authorization": f"Bearer {token}"})
            self.assert_problem(response, 401)

    def test_someone_elses_session_is_a_404(self, server, user, make_user):
        session = services.create_session(owner=make_user(email="owner@example.com"))
        self.assert_problem(self.post(server, session.pk, headers=auth(user)), 404)
        assert not Message.objects.exists()

    def test_bad_input(self, server, user, llm):
        session = services.create_session(owner=user)
        headers = auth(user)
        cases = [
            ({"json": {"content": ""}}, 400),
            ({"json": {"content": "hi", "role": "system"}}, 400),
            ({"json": {"text": "hi"}}, 400),
            (
                {"content": b"{nope", "headers": {**headers, "content-type": "application/json"}},
                400,
            ),
            ({"data": {"content": "hi"}}, 415),
            ({"json": {"content": "x" * 9000}}, 400),
            (
                {
                    "content": b"x" * (70 * 1024),
                    "headers": {**headers, "content-type": "application/json"},
                },
                413,
            ),
        ]
        for body, status in cases:
            body.setdefault("headers", headers)
            response = httpx.post(
                f"{server.url}/api/v1/sessions/{session.pk}/stream", timeout=10, **body
            )
            assert response.status_code == status, (body, response.text)
        assert not Message.objects.exists()
        assert llm.stats()["total"]["requests"] == 0

    def test_wrong_method(self, server, user):
        session = services.create_session(owner=user)
        response = httpx.get(
            f"{server.url}/api/v1/sessions/{session.pk}/stream", headers=auth(user)
        )
        self.assert_problem(response, 405)

    def test_quota(self, server, user, llm):
        from accounts.quotas import record_token_usage

        user.daily_token_quota = 10
        user.save()
        record_token_usage(user, 10)
        session = services.create_session(owner=user)
        response = self.post(server, session.pk, headers=auth(user))
        self.assert_problem(response, 429, "token_quota_exceeded")
        assert int(response.headers["retry-after"]) > 0
        assert llm.stats()["total"]["requests"] == 0

    def test_rate_limit(self, asgi_server, llm, user):
        server = asgi_server(env={"LLM_BASE_URL": llm.base_url, "RATE_LIMIT_USER": "2/m"})
        session = services.create_session(owner=user)
        assert names(stream(server, user, session))[-1] == "done"
        assert names(stream(server, user, session))[-1] == "done"
        response = self.post(server, session.pk, headers=auth(user))
        self.assert_problem(response, 429, "rate_limited")
        assert "retry-after" in response.headers

    def test_the_browsers_accept_header_is_admitted(self, server, user):
        session = services.create_session(owner=user)
        events = stream(server, user, session, headers={"Accept": "text/event-stream"})
        assert names(events) == ["start", "agent", "token", "done"]


class TestBrowserSession:
    def cookie_for(self, user) -> str:
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        store["_auth_user_hash"] = user.get_session_auth_hash()
        store.save()
        return store.session_key

    def test_session_cookie_needs_the_csrf_token(self, server, user):
        """A cookie is sent by the browser whoever made the page: without the CSRF token
        (or with a wrong one, or from another origin) the turn is refused before anything
        is saved or any model is called; with it, it streams."""
        session = services.create_session(owner=user)
        url = f"{server.url}/api/v1/sessions/{session.pk}/stream"
        cookies = {"sessionid": self.cookie_for(user), "csrftoken": "a" * 32}
        forged = [
            {},
            {"X-CSRFToken": "b" * 32},
            {"X-CSRFToken": "a" * 32, "Origin": "http://evil.example"},
        ]
        for headers in forged:
            refused = httpx.post(url, json={"content": "hi"}, cookies=cookies, headers=headers)
            TestRefusals.assert_problem(refused, 403, "csrf_failed")
        assert not Message.objects.exists()
        allowed = httpx.post(
            url, json={"content": "hi"}, cookies=cookies, headers={"X-CSRFToken": "a" * 32}
        )
        assert allowed.status_code == 200
        assert names(list(decode(allowed.text.splitlines())))[-1] == "done"

    def test_a_bearer_token_needs_no_csrf_token(self, server, user):
        """CSRF guards what a browser sends by itself; a bearer header it never adds."""
        session = services.create_session(owner=user)
        events = stream(server, user, session, cookies={"csrftoken": "a" * 32})
        assert names(events)[-1] == "done"


class TestConversation:
    def test_concurrent_streams_on_one_session_both_complete_in_turn(self, asgi_server, user):
        paced = SimulatorConfig(ttft_ms=100, tokens_per_s=40, reply_tokens=10)
        with running_simulator(paced) as sim:
            server = asgi_server(env={"LLM_BASE_URL": sim.base_url})
            session = services.create_session(owner=user)
            results = {}

            def run(content):
                results[content] = stream(server, user, session, content)

            threads = [threading.Thread(target=run, args=(c,)) for c in ("first one", "second one")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        assert all(names(events)[-1] == "done" for events in results.values())
        answers = Message.objects.filter(role="assistant").order_by("created_at")
        assert [a.status for a in answers] == ["complete", "complete"]
        later = max(results.values(), key=lambda events: events[-1][1]["usage"]["prompt_tokens"])
        earlier = min(results.values(), key=lambda events: events[-1][1]["usage"]["prompt_tokens"])
        # The turn that ran second saw the first one's exchange in its prompt.
        assert (
            later[-1][1]["usage"]["prompt_tokens"] > earlier[-1][1]["usage"]["prompt_tokens"] + 10
        )

    def test_a_lock_lost_mid_turn_does_not_fail_the_turn(self, asgi_server, user):
        """Redis emptied (or the lock expired) while the answer streams: the turn still ends
        with `done` and is stored complete; the lapse is only logged."""
        import redis
        from django.conf import settings

        paced = SimulatorConfig(ttft_ms=300, tokens_per_s=20, reply_tokens=10)
        with running_simulator(paced) as sim:
            server = asgi_server(env={"LLM_BASE_URL": sim.base_url})
            session = services.create_session(owner=user)
            key = f"{services.TURN_LOCK_PREFIX}{session.pk}"
            store = redis.Redis.from_url(settings.REDIS_URL)
            thread = threading.Thread(
                target=lambda: wait_for(lambda: store.delete(key), timeout=10)
            )
            thread.start()
            events = stream(server, user, session)
            thread.join(15)
        assert names(events) == ["start", "agent", "token", "done"]
        assert Message.objects.get(role="assistant").status == "complete"
        assert "was lost before the turn ended" in server.log()

    def test_history_survives_a_server_restart(self, asgi_server, llm, user):
        session = services.create_session(owner=user, agent="general")
        first_server = asgi_server(env={"LLM_BASE_URL": llm.base_url})
        first = stream(first_server, user, session, "my name is Ada")
        first_server.stop()
        second_server = asgi_server(env={"LLM_BASE_URL": llm.base_url})
        second = stream(second_server, user, session, "what is my name")
        first_prompt = first[-1][1]["usage"]["prompt_tokens"]
        second_prompt = second[-1][1]["usage"]["prompt_tokens"]
        # The second prompt holds the first exchange (the question after its context, 8 words
        # answered), then the new question after its own context: 4 words and the context's.
        context_words = len(prompts.turn_context(datetime.now(UTC)).split())
        assert second_prompt - first_prompt == 8 + context_words + 4

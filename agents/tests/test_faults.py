"""Faults with real processes: what a person's chat keeps when a process of it dies or stalls.

Each test starts real servers (uvicorn, the simulator), breaks one of them the hard way
(SIGKILL, a model that never answers) and checks what is left in Postgres and what the client
saw: one `done` or one `error`, never a 500, never a lost question.
"""

import threading
import time

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

from agents import services
from agents.llm.ring import CONTINUE_PROMPT
from agents.models import LLMCall, Message
from agents.sse import decode
from devtools import stack
from devtools.llmservers.simulator import (
    SimulatorConfig,
    SimulatorProcess,
    echo_reply,
    running_simulator,
)
from devtools.testing import bearer as auth
from devtools.testing import stream_turn, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

STORY = "tell me a long story"
TEST_SETTINGS = "agentsite.settings.test"  # a 20 s budget, for answers that take seconds
SHORT_BUDGET = "agents.tests.fault_settings"  # a 3 s chat budget a silent model outlasts


SHORT = {"match": "^hello", "reply": "Hi."}  # an answer that outlasts no budget


def fault_server(asgi_server, llm_base_url: str, settings_module=SHORT_BUDGET, **env):
    """A live server whose killed turns hold their session's lock for 3 s only."""
    return asgi_server(
        env={
            "DJANGO_SETTINGS_MODULE": settings_module,
            "LLM_BASE_URL": llm_base_url,
            "TURN_LOCK_TTL_SECONDS": "3",
            **env,
        }
    )


def final_events(events) -> list[str]:
    return [name for name, _ in events if name in ("done", "error")]


class TestWebProcessKilled:
    def test_the_answer_keeps_what_was_streamed_until_shortly_before_the_kill(
        self, asgi_server, user
    ):
        slow = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=400, rules=[SHORT])
        with running_simulator(slow) as sim:
            doomed = fault_server(asgi_server, sim.base_url, TEST_SETTINGS)
            session = services.create_session(owner=user)
            received: list[tuple[float, str]] = []  # (when, all text so far)
            with httpx.stream(
                "POST",
                f"{doomed.url}/api/v1/sessions/{session.pk}/stream",
                json={"content": STORY},
                headers=auth(user),
                timeout=30,
            ) as response:
                for name, data in decode(response.iter_lines()):
                    if name == "token":
                        text = (received[-1][1] if received else "") + data["text"]
                        received.append((time.monotonic(), text))
                    if received and received[-1][0] - received[0][0] > 4.5:
                        doomed.process.kill()  # SIGKILL while the client still listens
                        doomed.process.wait()
                        break
            killed_at = time.monotonic()
            answer = Message.objects.get(session=session, role="assistant")
            assert answer.status == "interrupted"
            streamed = received[-1][1]
            assert streamed.startswith(answer.content)
            # Saved every 2 s: the row has at least what the client had 3 s before the kill.
            before = [text for when, text in received if when < killed_at - 3]
            assert before
            assert len(answer.content) >= len(before[-1]) > 0

            # After a restart the person sees the question and the cut-off answer ...
            restarted = fault_server(asgi_server, sim.base_url, TEST_SETTINGS)
            listed = httpx.get(
                f"{restarted.url}/api/v1/sessions/{session.pk}/messages", headers=auth(user)
            ).json()["results"]
            assert [(m["role"], m["status"], m["content"]) for m in listed] == [
                ("user", "complete", STORY),
                ("assistant", "interrupted", answer.content),
            ]
            # ... and the session takes a new turn once the dead turn's lock expired (3 s).
            events = stream_turn(restarted, user, session, "hello again")
        assert final_events(events) == ["done"]
        assert Message.objects.filter(session=session, role="assistant").count() == 2


class TestModelTooSlow:
    def test_a_silent_or_slow_model_ends_the_turn_at_the_budget_with_one_error(
        self, asgi_server, user
    ):
        drip = SimulatorConfig(ttft_ms=0, tokens_per_s=4, reply_tokens=100, rules=[SHORT])
        with running_simulator(drip) as sim:
            server = fault_server(asgi_server, sim.base_url)  # a 3 s budget
            session = services.create_session(owner=user)

            sim.set_faults("*", {"kind": "hang"})  # silent
            started = time.monotonic()
            events = stream_turn(server, user, session, "are you there?")
            took = time.monotonic() - started
            # No switch is announced once the budget is spent: no model is tried after it.
            assert [name for name, _ in events] == ["start", "error"]
            assert events[-1][1]["code"] == "llm_unavailable"
            assert took < 10  # the 3 s budget, not the 10 s silence timeout or a hang
            assert wait_for(lambda: sim.stats()["active"] == 0)  # the hung call was dropped
            silent = Message.objects.filter(session=session, role="assistant").latest("created_at")
            assert (silent.status, silent.content) == ("failed", "")

            sim.clear_faults()  # slow: 4 tokens a second, 100 of them
            events = stream_turn(server, user, session, STORY)
            assert final_events(events) == ["error"]
            assert events[-1][1]["code"] == "llm_unavailable"
            streamed = "".join(data["text"] for name, data in events if name == "token")
            slow = Message.objects.filter(session=session, role="assistant").latest("created_at")
            assert slow.status == "failed"
            assert slow.content == streamed
            assert streamed
            assert echo_reply(STORY, 100).startswith(streamed)

            # The session is not left locked: the next turn is answered.
            assert final_events(stream_turn(server, user, session, "hello")) == ["done"]


class TestSimulatorKilled:
    def test_the_next_model_continues_the_answer(self, asgi_server, user):
        """kill -9 of the model's server mid-stream: the ring hands over to the next model,
        which is asked to continue the text so far; the client sees one answer."""
        primary = SimulatorProcess("--tokens-per-s", "20", "--reply-tokens", "200")
        fallback = SimulatorProcess("--tokens-per-s", "0", "--reply-tokens", "12")
        try:
            models = f"sim-primary@{primary.base_url},sim-fallback@{fallback.base_url}"
            server = fault_server(asgi_server, primary.base_url, LLM_MODELS=models)
            session = services.create_session(owner=user)
            events = []
            with httpx.stream(
                "POST",
                f"{server.url}/api/v1/sessions/{session.pk}/stream",
                json={"content": STORY},
                headers=auth(user),
                timeout=30,
            ) as response:
                for name, data in decode(response.iter_lines()):
                    events.append((name, data))
                    if sum(name == "token" for name, _ in events) == 10:
                        primary.process.kill()
            stats = httpx.get(f"{fallback.base_url.removesuffix('/v1')}/_sim/stats").json()
        finally:
            primary.stop()
            fallback.stop()
        names = [name for name, _ in events if name != "ping"]
        assert names[0] == "start"
        assert final_events(events) == ["done"]
        switch = [name for name, _ in events].index("fallback")
        assert events[switch][1]["from_model"] == "sim-primary"
        assert events[switch][1]["to_model"] == "sim-fallback"
        before = "".join(data["text"] for name, data in events[:switch] if name == "token")
        after = "".join(data["text"] for name, data in events[switch:] if name == "token")
        # The first model's words, then the second's continuation, asked for with the text
        # so far (this simulator echoes the last user message: the instruction to continue).
        assert before
        assert echo_reply(STORY, 200).startswith(before)
        assert after == echo_reply(CONTINUE_PROMPT, 12)
        asked = stats["models"]["sim-fallback"]["last_request"]["messages"]
        assert asked[-2:] == [
            {"role": "assistant", "content": before},
            {"role": "user", "content": CONTINUE_PROMPT},
        ]
        answer = Message.objects.get(session=session, role="assistant")
        assert (answer.status, answer.model, answer.content) == (
            "complete",
            "sim-fallback",
            before + after,
        )


def in_thread(keep, server, user, session, content=STORY):
    """A turn streamed from another thread; its events go to `keep`."""

    def run():
        try:
            keep(stream_turn(server, user, session, content))
        finally:
            connection.close()  # the access token's row was written from this thread

    return run


def problem(response) -> tuple[int, str, str]:
    return response.status_code, response.headers["content-type"], response.json()["code"]


class TestValkeyRestart:
    """Redis holds the rate limits, the breakers, the turn locks and Celery's queue. While it is
    down the API refuses quickly (503), a turn under way still ends properly; after it is back
    everything works again without a restart of the web process."""

    def test_requests_fail_fast_with_503_and_recover(self, asgi_server, user):
        valkey = stack.Stack.for_profile("test").valkey
        assert valkey.url() == settings.REDIS_URL  # the test stack's, which the test may stop
        slow = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=60)
        with running_simulator(slow) as sim:
            server = fault_server(asgi_server, sim.base_url, TEST_SETTINGS)
            session = services.create_session(owner=user)
            in_flight: list = []
            turn = threading.Thread(target=in_thread(in_flight.extend, server, user, session))
            try:
                turn.start()
                assert wait_for(lambda: sim.stats()["active"] == 1)
                valkey.stop()
                during = {
                    "history": httpx.get(
                        f"{server.url}/api/v1/sessions", headers=auth(user), timeout=10
                    ),
                    "sign-in": httpx.post(
                        f"{server.url}/api/v1/auth/token",
                        json={"email": user.email, "password": "correct horse battery staple"},
                        timeout=10,
                    ),
                    "turn": httpx.post(
                        f"{server.url}/api/v1/sessions/{session.pk}/stream",
                        json={"content": "hello"},
                        headers=auth(user),
                        timeout=10,
                    ),
                }
                ready = httpx.get(f"{server.url}/ops/health/ready", timeout=10)
                turn.join(timeout=30)  # it ends while Redis is still away
            finally:
                valkey.start()
            for name, response in during.items():
                assert problem(response) == (
                    503,
                    "application/problem+json",
                    "service_unavailable",
                ), name
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"] == "unavailable"
            # The turn under way was answered; its lock, not released, expires on its own.
            assert final_events(in_flight) == ["done"]
            answer = Message.objects.get(session=session, role="assistant")
            assert answer.status == "complete"
            # Back: the same process answers again.
            events = stream_turn(server, user, services.create_session(owner=user), "hello")
            assert final_events(events) == ["done"]
            assert httpx.get(f"{server.url}/ops/health/ready", timeout=10).status_code == 200


def post_turn(server, headers: dict, session, content: str = "hello there") -> tuple:
    """One streamed turn: (HTTP status, its events, or its problem's code)."""
    with httpx.stream(
        "POST",
        f"{server.url}/api/v1/sessions/{session.pk}/stream",
        json={"content": content},
        headers=headers,
        timeout=30,
    ) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, response.json()["code"]
        return 200, list(decode(response.iter_lines()))


@pytest.fixture
def test_postgres():
    """The test stack's Postgres, for a test to restart; this process's pools are renewed
    after, so later tests find working connections."""
    postgres = stack.Stack.for_profile("test").postgres
    assert postgres.port == connection.settings_dict["PORT"]  # the one the tests use
    yield postgres
    if postgres.pid() is None:
        postgres.start()
    reconnect()


def reconnect() -> None:
    """Drop this process's connections to a restarted Postgres: Django's (and its pool), the
    agent's checkpoint pool and Mem0's; each is made again when next needed."""
    from agents.checkpoints import close_loop_agent
    from agentsite.loops import background_loop
    from memory import engine

    for each in connections.all():
        each.close()
        each.close_pool()
    background_loop.run(close_loop_agent())
    engine.close()


class TestPostgresRestart:
    def test_streams_end_with_one_event_and_new_turns_succeed_after(
        self, asgi_server, user, test_postgres
    ):
        paced = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=30)  # 1.5 s a turn
        with running_simulator(paced) as sim:
            server = fault_server(asgi_server, sim.base_url, TEST_SETTINGS)
            sessions = [services.create_session(owner=user) for _ in range(3)]
            headers = auth(user)
            outcomes: list[tuple] = []
            stopping = threading.Event()

            def chat(session):
                while not stopping.is_set():
                    outcomes.append(post_turn(server, headers, session))

            def browse():
                while not stopping.is_set():
                    listed = httpx.get(f"{server.url}/api/v1/sessions", headers=headers, timeout=10)
                    outcomes.append((listed.status_code, "history"))
                    time.sleep(0.1)

            load = [threading.Thread(target=chat, args=(s,)) for s in sessions]
            load.append(threading.Thread(target=browse))
            for thread in load:
                thread.start()
            try:
                assert wait_for(lambda: sim.stats()["active"] == 3)
                time.sleep(0.5)  # the streams are under way
                test_postgres.stop()
                time.sleep(2)  # down for 2 s while requests keep coming
                test_postgres.start()
                restarted = time.monotonic()
                time.sleep(1)
            finally:
                stopping.set()
                for thread in load:
                    thread.join(timeout=60)
            # New turns succeed within 5 s of Postgres being back.
            while True:
                status, events = post_turn(server, headers, sessions[0], "are you back?")
                if status == 200 and final_events(events) == ["done"]:
                    break
                assert time.monotonic() < restarted + 5, (status, events)
                time.sleep(0.2)
            attempts = sim.stats()["total"]["requests"]
        reconnect()
        # An LLMCall row for every attempt, those that ended while Postgres was away included.
        assert wait_for(lambda: LLMCall.objects.count() == attempts), (
            LLMCall.objects.count(),
            attempts,
        )
        statuses = {outcome[0] for outcome in outcomes}
        assert statuses <= {200, 503}, outcomes  # never a 500
        assert 503 in statuses  # the outage was seen
        streams = [got for status, got in outcomes if status == 200 and got != "history"]
        for events in streams:
            assert final_events(events) == [events[-1][0]], events  # one, and last
        errors = {events[-1][1]["code"] for events in streams if events[-1][0] == "error"}
        assert errors <= {"service_unavailable"}
        # Nothing accepted is lost: every started turn's question is stored, its answer closed
        # as the client saw it (a close the outage prevented stays `interrupted`).
        for events in streams:
            start = events[0][1]
            assert Message.objects.filter(pk=start["user_message_id"]).exists()
            answer = Message.objects.get(pk=start["assistant_message_id"])
            if events[-1][0] == "done":
                text = "".join(data["text"] for name, data in events if name == "token")
                assert (answer.status, answer.content) == ("complete", text)
            else:
                assert answer.status in ("failed", "interrupted")
        assert streams

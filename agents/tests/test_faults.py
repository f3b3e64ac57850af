"""Faults with real processes: what a person's chat keeps when a process of it dies or stalls.

Each test starts real servers (uvicorn, the simulator), breaks one of them the hard way
(SIGKILL, a model that never answers) and checks what is left in Postgres and what the client
saw: one `done` or one `error`, never a 500, never a lost question.
"""

import time

import httpx
import pytest

from agents import services
from agents.models import Message
from agents.sse import decode
from devtools.llmservers.simulator import SimulatorConfig, running_simulator
from devtools.testing import bearer as auth
from devtools.testing import stream_turn

pytestmark = pytest.mark.django_db(transaction=True)

STORY = "tell me a long story"


def final_events(events) -> list[str]:
    return [name for name, _ in events if name in ("done", "error")]


class TestWebProcessKilled:
    def test_the_answer_keeps_what_was_streamed_until_shortly_before_the_kill(
        self, asgi_server, user
    ):
        slow = SimulatorConfig(ttft_ms=0, tokens_per_s=20, reply_tokens=400)
        with running_simulator(slow) as sim:
            # A short turn lock: the killed turn never releases it.
            env = {"LLM_BASE_URL": sim.base_url, "TURN_LOCK_TTL_SECONDS": "3"}
            doomed = asgi_server(env=env)
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
            restarted = asgi_server(env=env)
            listed = httpx.get(
                f"{restarted.url}/api/v1/sessions/{session.pk}/messages", headers=auth(user)
            ).json()["results"]
            assert [(m["role"], m["status"], m["content"]) for m in listed] == [
                ("user", "complete", STORY),
                ("assistant", "interrupted", answer.content),
            ]
            # ... and the session takes a new turn once the dead turn's lock expired.
        fast = SimulatorConfig(ttft_ms=0, tokens_per_s=0, reply_tokens=8)
        with running_simulator(fast) as sim:
            again = asgi_server(env={**env, "LLM_BASE_URL": sim.base_url})
            events = stream_turn(again, user, session, "hello again")
        assert final_events(events) == ["done"]
        assert Message.objects.filter(session=session, role="assistant").count() == 2

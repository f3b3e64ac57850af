"""The people of the load and stress tests (locust): each signs up once, signs in, opens chat
sessions, streams turns with time to think between them, reads the history and their memories
and rotates their tokens, as the web UI would do it (`../shared/API.md`).

Each turn's stream is read event by event: time to first token, the gaps between tokens and
how it ended (exactly one `done`) are measured, reported to locust, and, given
`--turns-file`, written as one `records.TurnRecord` per line for the stress report.
"""

import json
import random
import time
import uuid
from pathlib import Path

import requests
from locust import HttpUser, events, task

from devtools.stress import records

PASSWORD = "load-test pass phrase 42"  # noqa: S105 (made-up people)
# What people type: plain conversation (no tool intents), so every turn is one model call.
MESSAGES = (
    "Hello! I moved to Lisbon last spring and I am still learning Portuguese.",
    "Can you suggest a weekend plan for someone who likes cycling and old bookshops?",
    "I am vegetarian and my sister visits next week; what could we cook together?",
    "Explain in simple words why the sky looks blue in the afternoon.",
    "My favourite composer is Arvo Pärt. Which of his pieces should I hear next?",
    "I work night shifts at a hospital, any advice for sleeping during the day?",
    "Write me a short note to thank a colleague who helped with my report.",
    "What should I pack for three days of hiking in the mountains in October?",
)


@events.init_command_line_parser.add_listener
def _turns_file_option(parser):
    parser.add_argument(
        "--turns-file",
        default="",
        include_in_web_ui=False,
        help="append each chat turn as a JSON line to this file (the stress report reads it)",
    )
    parser.add_argument(
        "--think-time",
        default="2:8",
        include_in_web_ui=False,
        help="MIN:MAX seconds a person waits between actions (reading, typing)",
    )


class Person(HttpUser):
    def wait_time(self) -> float:
        """Reading the answer, typing the next question: `--think-time` seconds."""
        low, _, high = self.environment.parsed_options.think_time.partition(":")
        return random.uniform(float(low), float(high))  # noqa: S311 (load shape)

    def on_start(self):
        self.email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        self.client.post("/api/v1/auth/register", json={"email": self.email, "password": PASSWORD})
        response = self.client.post(
            "/api/v1/auth/token", json={"email": self.email, "password": PASSWORD}
        )
        tokens = response.json() if response.ok else {}
        self._use_tokens(tokens.get("access", ""), tokens.get("refresh", ""))
        self.session_id = None
        self.open_session()

    def _use_tokens(self, access: str, refresh: str):
        self.refresh = refresh
        self.client.headers["Authorization"] = f"Bearer {access}"

    @task(1)
    def open_session(self):
        response = self.client.post("/api/v1/sessions", json={"title": "stress test"})
        if response.ok:
            self.session_id = response.json()["id"]

    @task(6)
    def chat(self):
        if self.session_id:
            self._stream_turn(random.choice(MESSAGES))  # noqa: S311 (load shape)

    @task(2)
    def history(self):
        if self.session_id:
            self.client.get(
                f"/api/v1/sessions/{self.session_id}/messages",
                name="/api/v1/sessions/{id}/messages",
            )

    @task(1)
    def memories(self):
        self.client.get("/api/v1/memories")

    @task(1)
    def rotate_tokens(self):
        response = self.client.post("/api/v1/auth/token/refresh", json={"refresh": self.refresh})
        if response.ok:
            self._use_tokens(response.json()["access"], response.json()["refresh"])

    def _stream_turn(self, content: str):
        record = records.TurnRecord(started=time.time())
        started = time.perf_counter()
        with self.client.post(
            f"/api/v1/sessions/{self.session_id}/stream",
            json={"content": content},
            stream=True,
            catch_response=True,
            name=records.STREAM_NAME,
        ) as response:
            record.http_status = response.status_code or 0
            if response.status_code == 200:
                try:
                    self._read_events(response, record, started)
                except requests.RequestException as exc:
                    record.error_code = type(exc).__name__
            elif response.status_code == 0:
                record.error_code = type(response.error).__name__ if response.error else ""
            if record.completed:
                response.success()
            else:
                response.failure(record.error_kind)
        if record.ttft_s is not None:
            events.request.fire(
                request_type="SSE",
                name="time to first token",
                response_time=record.ttft_s * 1000,
                response_length=0,
                exception=None,
                context={},
            )
        if self.environment.parsed_options and self.environment.parsed_options.turns_file:
            records.append(Path(self.environment.parsed_options.turns_file), record)

    @staticmethod
    def _read_events(response, record: records.TurnRecord, started: float):
        """SSE lines: `event: NAME` then `data: JSON` (API.md); `: ping` and `id:` are skipped."""
        event, last_token = "", None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line[7:]
                if event == "token":
                    now = time.perf_counter()
                    if last_token is None:
                        record.ttft_s = now - started
                    else:
                        record.gaps_ms.append(round((now - last_token) * 1000, 2))
                    last_token = now
                    record.tokens += 1
            elif line.startswith("data: ") and event in ("done", "error", "fallback"):
                data = json.loads(line[6:])
                if event == "done":
                    record.done_events += 1
                    record.model = data.get("model", "")
                elif event == "error":
                    record.error_events += 1
                    record.error_code = data.get("code", "")
                else:
                    record.fallback_events += 1

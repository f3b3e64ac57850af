"""Load test: people sign up, sign in, open a chat session and talk to the agent (streamed).

Run through `make load` against `make dev` or any server (headless, bounded by --run-time).
Without --run-time this file sets one, so a forgotten flag never leaves a load test running.
Time to first token and whole streams are reported as their own request names.
"""

import time
import uuid

from locust import HttpUser, between, events, task

DEFAULT_RUN_TIME_SECONDS = 60
PASSWORD = "load-test pass phrase 42"


@events.init.add_listener
def _bounded_run(environment, **_):
    options = environment.parsed_options
    if options is not None and not options.run_time:
        options.run_time = DEFAULT_RUN_TIME_SECONDS


class Person(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        self.email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        self.client.post(
            "/api/v1/auth/register",
            json={"email": self.email, "password": PASSWORD},
            name="/api/v1/auth/register",
        )
        self.sign_in()

    def sign_in(self):
        response = self.client.post(
            "/api/v1/auth/token", json={"email": self.email, "password": PASSWORD}
        )
        tokens = response.json() if response.ok else {}
        self.refresh = tokens.get("refresh")
        self.client.headers["Authorization"] = f"Bearer {tokens.get('access', '')}"

        response = self.client.post("/api/v1/sessions", json={"title": "load test"})
        self.session_id = response.json().get("id") if response.ok else None

    @task(5)
    def read_me(self):
        self.client.get("/api/v1/auth/me")

    @task(3)
    def chat(self):
        """One streamed turn; reports time to first token and the whole stream."""
        if not self.session_id:
            return
        url = f"/api/v1/sessions/{self.session_id}/stream"
        started = time.perf_counter()
        with self.client.post(
            url,
            json={"content": "what is 12*7?"},
            stream=True,
            catch_response=True,
            name="/api/v1/sessions/{id}/stream",
        ) as response:
            first_token, ending = None, None
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("event: token") and first_token is None:
                    first_token = time.perf_counter() - started
                    events.request.fire(
                        request_type="SSE",
                        name="time to first token",
                        response_time=first_token * 1000,
                        response_length=0,
                        exception=None,
                        context={},
                    )
                elif line in ("event: done", "event: error"):
                    ending = line
            if ending == "event: done":
                response.success()
            else:
                response.failure(f"stream ended with {ending}")

    @task(1)
    def history(self):
        if self.session_id:
            self.client.get(
                f"/api/v1/sessions/{self.session_id}/messages",
                name="/api/v1/sessions/{id}/messages",
            )

    @task(1)
    def rotate_tokens(self):
        response = self.client.post("/api/v1/auth/token/refresh", json={"refresh": self.refresh})
        if response.ok:
            self.refresh = response.json()["refresh"]
            self.client.headers["Authorization"] = f"Bearer {response.json()['access']}"

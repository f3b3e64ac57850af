"""Load test of the accounts flow: sign up once per simulated person, then sign in and read /me.

Run through `make load` (headless, bounded by --run-time). Without --run-time this file sets one,
so a forgotten flag never leaves a load test running.
"""

import uuid

from locust import HttpUser, between, events, task

DEFAULT_RUN_TIME_SECONDS = 60
PASSWORD = "load-test pass phrase 42"


@events.init.connect
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

    @task(5)
    def read_me(self):
        self.client.get("/api/v1/auth/me")

    @task(1)
    def rotate_tokens(self):
        response = self.client.post("/api/v1/auth/token/refresh", json={"refresh": self.refresh})
        if response.ok:
            self.refresh = response.json()["refresh"]
            self.client.headers["Authorization"] = f"Bearer {response.json()['access']}"

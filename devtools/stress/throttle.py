"""The throttled window: from `start_s` to `end_s` of the run, the simulator answers every
request for the primary model with 429 and a `Retry-After`, through its admin endpoint
(`PUT/DELETE /_sim/faults`), as a provider over its rate limit would."""

import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float

    def __post_init__(self):
        if not 0 <= self.start_s < self.end_s:
            raise ValueError(f"a throttle window needs 0 <= start < end, not {self}")

    @classmethod
    def middle_third(cls, run_time_s: float) -> "Window":
        return cls(round(run_time_s / 3, 1), round(2 * run_time_s / 3, 1))


class Throttle:
    """A thread that sets the primary's 429 fault at the window's start and clears it at its
    end, counted from `started` (a `time.time()`); leaving the `with` block clears it too."""

    def __init__(self, simulator_url: str, model: str, window: Window, retry_after_s: float):
        self.faults_url = simulator_url.removesuffix("/v1") + "/_sim/faults"
        self.model, self.window, self.retry_after_s = model, window, retry_after_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, started: float) -> None:
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()

    def _run(self, started: float) -> None:
        if self._stop.wait(max(0.0, started + self.window.start_s - time.time())):
            return
        fault = {"kind": "status_429", "retry_after": self.retry_after_s}
        httpx.put(self.faults_url, json={self.model: fault}, timeout=10).raise_for_status()
        self._stop.wait(max(0.0, started + self.window.end_s - time.time()))
        self._clear()

    def _clear(self) -> None:
        httpx.delete(self.faults_url, params={"model": self.model}, timeout=10).raise_for_status()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._clear()

"""Serving the simulator: in a thread of the caller (:func:`running_simulator`), in the
foreground (:func:`serve`) or as its own process (:func:`spawned_simulator`)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from devtools.llmservers.protocol import JSON
from devtools.llmservers.serving import ThreadedServer, uvicorn_server
from devtools.llmservers.simulator.app import Simulator
from devtools.llmservers.simulator.config import SimulatorConfig
from devtools.llmservers.simulator.faults import FaultSpec
from devtools.llmservers.simulator.rules import RuleSource


class SimulatorHandle(ThreadedServer):
    """A simulator running in a background thread (see :func:`running_simulator`)."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator, name="llm-simulator")
        self.simulator = simulator

    def set_faults(self, model: str, spec: FaultSpec | Mapping[str, Any] | None) -> None:
        self.simulator.set_faults(model, spec)

    def clear_faults(self, model: str | None = None) -> None:
        self.simulator.clear_faults(model)

    def set_rules(self, rules: RuleSource) -> None:
        self.simulator.set_rules(rules)

    def stats(self) -> JSON:
        return self.simulator.stats()

    def reset(self) -> None:
        self.simulator.reset()


@contextlib.contextmanager
def running_simulator(
    config: SimulatorConfig | None = None, **overrides: Any
) -> Iterator[SimulatorHandle]:
    """Run the simulator on 127.0.0.1 and a free port in a daemon thread for the ``with`` block.
    ``overrides`` replace fields of ``config``."""
    handle = SimulatorHandle(Simulator(replace(config or SimulatorConfig(), **overrides)))
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


def serve(config: SimulatorConfig, log_level: str = "info") -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    simulator = Simulator(config)
    server = uvicorn_server(simulator, host=config.host, port=config.port, log_level=log_level)
    server.run()


class SimulatorProcess:
    """The simulator as its own process (benchmarks and load tests, where sharing the caller's
    GIL would distort the figures; fault tests, which kill it): ``base_url`` is
    ``http://127.0.0.1:PORT/v1``, ``process`` the Popen."""

    def __init__(self, *cli_args: str, startup_timeout: float = 20.0) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        module = "devtools.llmservers.simulator"
        command = [sys.executable, "-m", module, "--port", str(port), *cli_args]
        self.process = subprocess.Popen(  # noqa: S603 (our own module)
            [*command, "--log-level", "warning"], stdout=subprocess.DEVNULL
        )
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=1):  # noqa: S310
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the LLM simulator process did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)


@contextlib.contextmanager
def spawned_simulator(*cli_args: str, startup_timeout: float = 20.0) -> Iterator[str]:
    """Run the simulator as its own process for the ``with`` block; yields its base URL."""
    spawned = SimulatorProcess(*cli_args, startup_timeout=startup_timeout)
    try:
        yield spawned.base_url
    finally:
        spawned.stop()

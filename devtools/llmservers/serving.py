"""Serving our own OpenAI-compatible ASGI apps (the LLM simulator, the local model server).

Both apps have `begin_shutdown()`, which ends requests that would otherwise keep a graceful
shutdown waiting (a hanging fault, a long generation).
"""

import argparse
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 15.0


def uvicorn_server(app: Any, **options: Any) -> uvicorn.Server:
    class _Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            app.begin_shutdown()  # end long requests first, or shutdown would wait for them
            await super().shutdown(sockets=sockets)

    options.setdefault("access_log", False)
    options.setdefault("timeout_graceful_shutdown", 5)
    options.setdefault("lifespan", "on")
    options.setdefault("backlog", 4096)
    return _Server(uvicorn.Config(app, **options))


def command_line(
    prog: str, description: str, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """A server's parser: the same `add_arguments` serve its `python -m` and its manage.py
    command."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    return parser


class ThreadedServer:
    """An app served on 127.0.0.1 and a free port in a daemon thread (tests, benchmarks).

    The port is bound before the thread starts, so there is no race for it; uvicorn installs
    no signal handlers outside the main thread and is left to not touch logging.
    """

    def __init__(self, app: Any, *, name: str, join_timeout: float = 15.0) -> None:
        self.app = app
        self.name = name
        self.join_timeout = join_timeout
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self._socket.getsockname()[1]
        self.root_url = f"http://{self.host}:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        self._server = uvicorn_server(app, host=self.host, port=self.port, log_config=None)
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        def run() -> None:
            try:
                self._server.run(sockets=[self._socket])
            except BaseException as exc:  # reported to the caller below
                self._errors.append(exc)

        self._thread = threading.Thread(target=run, name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if self._errors or not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"{self.name} did not start: {self._errors[:1]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start within {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout)
            self._thread = None

"""Running the local model server: in a thread for tests, in the foreground for a process.

In tests::

    with running_local_server(local_model_path(TEST_SPEC), model_name="qwen-test") as srv:
        srv.base_url            # "http://127.0.0.1:PORT/v1"
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from devtools.llmservers.local.backend import DEFAULT_N_CTX, DEFAULT_TEMPERATURE, load_backend
from devtools.llmservers.local.prompt_cache import DEFAULT_CACHE_SLOTS
from devtools.llmservers.local.server import LocalServer, LocalServerConfig
from devtools.llmservers.local.weights import DEFAULT_MODEL_NAME, DEFAULT_SPEC, local_model_path
from devtools.llmservers.protocol import JSON
from devtools.llmservers.serving import ThreadedServer, uvicorn_server

__all__ = ["LocalServerHandle", "running_local_server", "serve"]


class LocalServerHandle(ThreadedServer):
    """A local model server running in a background thread (see :func:`running_local_server`)."""

    def __init__(self, app: LocalServer) -> None:
        super().__init__(app, name="local-llm", join_timeout=30)
        self.model_name = app.config.model_name

    def stats(self) -> JSON:
        return self.app.stats()


@contextlib.contextmanager
def running_local_server(
    model_path: str | os.PathLike[str] | None = None,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    default_temperature: float = DEFAULT_TEMPERATURE,
    cache_slots: int = DEFAULT_CACHE_SLOTS,
    backend: Any = None,
) -> Iterator[LocalServerHandle]:
    """Load the model and serve it on 127.0.0.1 and a free port in a daemon thread for the
    ``with`` block; yields a :class:`LocalServerHandle` (``base_url``). ``model_path`` default:
    :func:`local_model_path` of the default spec (or ``$LOCAL_LLM_PATH``). ``backend`` replaces
    the llama backend (tests of the HTTP side with a scripted model)."""
    if backend is None:
        path = model_path if model_path is not None else local_model_path(DEFAULT_SPEC)
        backend = load_backend(path, n_ctx=n_ctx, n_threads=n_threads, cache_slots=cache_slots)
    app = LocalServer(backend, LocalServerConfig(model_name, default_temperature))
    handle = LocalServerHandle(app)
    try:
        handle.start()
        yield handle
    finally:
        handle.stop()
        app.close()


def serve(
    model_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8800,
    model_name: str = DEFAULT_MODEL_NAME,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    default_temperature: float = DEFAULT_TEMPERATURE,
    cache_slots: int = DEFAULT_CACHE_SLOTS,
    log_level: str = "info",
) -> None:
    """Load the model, then serve in the foreground until SIGINT/SIGTERM."""
    backend = load_backend(model_path, n_ctx=n_ctx, n_threads=n_threads, cache_slots=cache_slots)
    app = LocalServer(backend, LocalServerConfig(model_name, default_temperature))
    try:
        uvicorn_server(app, host=host, port=port, log_level=log_level).run()
    finally:
        app.close()

"""The server's command line, shared by ``python -m devtools.llmservers.local`` and
``manage.py serve_local_llm`` (which adds Django's own options to the same arguments)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devtools.llmservers.local.backend import DEFAULT_N_CTX, DEFAULT_TEMPERATURE
from devtools.llmservers.local.prompt_cache import DEFAULT_CACHE_SLOTS
from devtools.llmservers.local.serving import serve
from devtools.llmservers.local.weights import (
    SPEC_ALIASES,
    local_model_path,
    model_name_for,
    resolve_spec,
)
from devtools.llmservers.serving import command_line

__all__ = ["add_arguments", "build_parser", "main", "run_from_options"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's command-line arguments (shared by ``-m`` and ``manage.py``)."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8800, help="default 8800")
    parser.add_argument(
        "--model-path",
        default=None,
        help="a GGUF file (default: $LOCAL_LLM_PATH, else the --spec weights, assembled once)",
    )
    parser.add_argument(
        "--spec",
        default="qwen2.5-coder-1.5b",
        choices=sorted(SPEC_ALIASES),
        help="pinned weights to serve when no --model-path (default qwen2.5-coder-1.5b)",
    )
    parser.add_argument(
        "--model-name", default=None, help="served model name (default: from --spec)"
    )
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context window")
    parser.add_argument(
        "--n-threads", type=int, default=None, help="llama.cpp threads (default: every core)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        help="temperature when a request gives none",
    )
    parser.add_argument(
        "--cache-slots",
        type=int,
        default=DEFAULT_CACHE_SLOTS,
        help="saved prompt states kept for reuse (default %(default)s; 0: the live KV cache only)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def run_from_options(options: Mapping[str, Any]) -> None:
    """Serve with parsed :func:`add_arguments` options (a dict or ``vars(namespace)``)."""
    spec = resolve_spec(options.get("spec") or "qwen2.5-coder-1.5b")
    path = options.get("model_path") or local_model_path(spec)
    serve(
        Path(path),
        host=options["host"],
        port=options["port"],
        model_name=options.get("model_name") or model_name_for(spec),
        n_ctx=options["n_ctx"],
        n_threads=options.get("n_threads"),
        default_temperature=options["temperature"],
        cache_slots=options["cache_slots"],
        log_level=options["log_level"],
    )


def build_parser() -> argparse.ArgumentParser:
    return command_line(
        "python -m devtools.llmservers.local",
        "OpenAI-compatible server for the embedded local model (llama.cpp).",
        add_arguments,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_from_options(vars(build_parser().parse_args(argv)))

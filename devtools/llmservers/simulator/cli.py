"""The simulator's command line: ``python -m devtools.llmservers.simulator`` and
``manage.py llm_simulator`` share :func:`add_arguments`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from devtools.llmservers.serving import command_line
from devtools.llmservers.simulator.config import ModelProfile, SimulatorConfig
from devtools.llmservers.simulator.faults import FAULT_KINDS, FaultSpec
from devtools.llmservers.simulator.serving import serve


def parse_fault(text: str) -> tuple[str, FaultSpec]:
    """``MODEL:KIND[:ARG]`` -> (model, spec). MODEL may contain ":" (``qwen2.5:1.5b``) and may be
    ``*``. KIND is one of :data:`FAULT_KINDS` or ``rate_limit_window``. ARG is the kind's main
    value (status_429: retry_after; status_400/500: code; break_after_tokens: N;
    rate_limit_window: N/T) or ``key=value`` pairs separated by commas
    (``retry_after=2,fail_times=3,probability=0.5``)."""
    parts = text.split(":")
    kinds = (*FAULT_KINDS, "rate_limit_window")
    idx = next((i for i in range(1, len(parts)) if parts[i] in kinds), None)
    if idx is None:
        raise ValueError(f"--fault {text!r}: expected MODEL:KIND[:ARG], KIND one of {kinds}")
    model, kind, arg = ":".join(parts[:idx]), parts[idx], ":".join(parts[idx + 1 :])
    data: dict[str, Any] = {} if kind == "rate_limit_window" else {"kind": kind}
    if arg and "=" in arg:
        for pair in arg.split(","):
            key, _, value = pair.partition("=")
            key = key.strip()
            if key == "rate_limit_window":
                n, _, t = value.partition("/")
                data[key] = {"requests": int(n), "seconds": float(t)}
            elif key in ("code", "message"):
                data[key] = value
            elif key in ("fail_times", "break_after_tokens"):
                data[key] = int(value)
            else:
                data[key] = float(value)
    elif arg:
        if kind == "status_429":
            data["retry_after"] = float(arg)
        elif kind in ("status_400", "status_500"):
            data["code"] = arg
        elif kind == "break_after_tokens":
            data["break_after_tokens"] = int(arg)
        elif kind == "rate_limit_window":
            n, _, t = arg.partition("/")
            data["rate_limit_window"] = {"requests": int(n), "seconds": float(t or 1)}
        else:
            raise ValueError(f"--fault {text!r}: {kind} takes no argument")
    if kind == "rate_limit_window" and "rate_limit_window" not in data:
        raise ValueError(f"--fault {text!r}: rate_limit_window needs N/T")
    return model, FaultSpec.from_value(data)


def parse_profile(text: str) -> tuple[str, ModelProfile]:
    """``MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]``; MODEL may contain ":" (then give
    REPLY_TOKENS when MODEL's last part is a number)."""
    parts = text.split(":")
    for count in (3, 2):
        if len(parts) <= count:
            continue
        model, values = ":".join(parts[:-count]), parts[-count:]
        try:
            ttft, tps = float(values[0]), float(values[1])
            reply = int(values[2]) if count == 3 else SimulatorConfig.reply_tokens
        except ValueError:
            continue
        return model, ModelProfile(ttft, tps, reply)
    raise ValueError(f"--profile {text!r}: expected MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's command-line arguments (shared by ``-m`` and ``manage.py``)."""
    defaults = SimulatorConfig()
    parser.add_argument("--host", default=defaults.host, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=defaults.port, help="default 8800")
    parser.add_argument(
        "--ttft-ms", type=float, default=defaults.ttft_ms, help="time to first token"
    )
    parser.add_argument(
        "--tokens-per-s", type=float, default=defaults.tokens_per_s, help="0: no delay"
    )
    parser.add_argument(
        "--reply-tokens", type=int, default=defaults.reply_tokens, help="echo reply length"
    )
    parser.add_argument("--context-window", type=int, default=None, help="prompt+max_tokens limit")
    parser.add_argument("--rules", default=None, help="JSON file of scripted rules")
    parser.add_argument(
        "--base-rules", default=None, help="JSON file of rules tried after --rules, never replaced"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODEL:KIND[:ARG]",
        help="e.g. gpt-4o:status_429:2, *:break_after_tokens:5, m:status_500:fail_times=2, "
        "m:rate_limit_window:10/60 (repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="MODEL:TTFT_MS:TOKENS_PER_S[:REPLY_TOKENS]",
        help="per-model latency (repeatable)",
    )
    parser.add_argument("--models", default=None, help="comma-separated accepted model names")
    parser.add_argument("--api-key", default=None, help="require this bearer token ('*': any)")
    parser.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="fault probability seed")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def config_from_options(options: Mapping[str, Any]) -> SimulatorConfig:
    """A :class:`SimulatorConfig` from parsed :func:`add_arguments` options (a dict or
    ``vars(namespace)``); raises ValueError on a bad ``--fault``/``--profile``."""
    faults = dict(parse_fault(f) for f in options.get("fault") or ())
    profiles: dict[str, ModelProfile | dict[str, Any]] = dict(
        parse_profile(p) for p in options.get("profile") or ()
    )
    models = options.get("models")
    return SimulatorConfig(
        host=options["host"],
        port=options["port"],
        models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
        api_key=options.get("api_key"),
        ttft_ms=options["ttft_ms"],
        tokens_per_s=options["tokens_per_s"],
        reply_tokens=options["reply_tokens"],
        context_window=options.get("context_window"),
        profiles=profiles,
        faults=dict(faults),
        rules=options.get("rules"),
        base_rules=options.get("base_rules"),
        embedding_dim=options["embedding_dim"],
        seed=options["seed"],
    )


def build_parser() -> argparse.ArgumentParser:
    return command_line(
        "python -m devtools.llmservers.simulator",
        "OpenAI-compatible LLM simulator for tests and load tests.",
        add_arguments,
    )


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    try:
        config = config_from_options(options)
    except ValueError as exc:
        parser.error(str(exc))
    serve(config, log_level=options["log_level"])

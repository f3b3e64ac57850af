"""What the simulator is told at start: :class:`SimulatorConfig` and per-model
:class:`ModelProfile` latencies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.simulator.faults import FaultSpec
from devtools.llmservers.simulator.rules import RuleSource

DEFAULT_MODEL = "simulator"  # the model /v1/models lists when no model names are configured
SYSTEM_FINGERPRINT = "fp_simulator"


@dataclass
class ModelProfile:
    """Latency model of one model name (the package docstring, "Latency")."""

    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0: no delay between pieces
    reply_tokens: int = 20  # length of the echo reply, in pieces
    context_window: int | None = None

    @classmethod
    def from_value(cls, value: ModelProfile | Mapping[str, Any]) -> ModelProfile:
        if isinstance(value, ModelProfile):
            return value
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown profile keys: {sorted(unknown)}")
        return cls(**value)


@dataclass
class SimulatorConfig:
    """Everything the simulator can be told at start. Top-level latency fields are the defaults
    for models without a profile in ``profiles`` (a ``"*"`` profile overrides them)."""

    host: str = "127.0.0.1"
    port: int = 8800
    models: list[str] | None = None  # None: any model name is accepted
    api_key: str | None = None  # None: no auth; "*": any bearer token
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    reply_tokens: int = 20
    context_window: int | None = None
    profiles: dict[str, ModelProfile | dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, FaultSpec | dict[str, Any]] = field(default_factory=dict)
    rules: RuleSource | None = None  # scripted: set_rules replaces them
    base_rules: RuleSource | None = None  # fixed, tried after ``rules``
    embedding_dim: int = 384
    embedding_latency_ms: float = 0.0
    seed: int = 0  # for fault probabilities
    max_body_bytes: int = proto.DEFAULT_MAX_BODY

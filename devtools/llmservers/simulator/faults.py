"""Simulated faults: a model's :class:`FaultSpec` and the state that decides each request's fault
(the package docstring, "Faults")."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from devtools.llmservers import protocol as proto
from devtools.llmservers.protocol import JSON, OpenAIError

FAULT_KINDS = ("status_429", "status_500", "status_400", "hang", "break_after_tokens")


@dataclass
class FaultSpec:
    """One fault configuration (the package docstring, "Faults"). ``fail_times=None``: every
    request."""

    kind: str | None = None
    retry_after: float = 1.0
    code: str | None = None
    message: str | None = None
    break_after_tokens: int = 0
    fail_times: int | None = None
    probability: float = 1.0
    rate_limit_window: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")
        if self.kind is None and self.rate_limit_window is None:
            raise ValueError("a fault needs a 'kind' or a 'rate_limit_window'")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.kind == "break_after_tokens" and self.break_after_tokens < 0:
            raise ValueError("break_after_tokens must be >= 0")
        if self.fail_times is not None and self.fail_times < 0:
            raise ValueError("fail_times must be >= 0")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        window = self.rate_limit_window
        if window is not None:
            if set(window) != {"requests", "seconds"}:
                raise ValueError("rate_limit_window is {'requests': N, 'seconds': T}")
            if int(window["requests"]) < 1 or float(window["seconds"]) <= 0:
                raise ValueError("rate_limit_window needs requests >= 1 and seconds > 0")
            self.rate_limit_window = {
                "requests": int(window["requests"]),
                "seconds": float(window["seconds"]),
            }

    @classmethod
    def from_value(cls, value: FaultSpec | Mapping[str, Any]) -> FaultSpec:
        """From a dict; the kind may also be given as a key: ``{"break_after_tokens": 3}``,
        ``{"hang": true}``, ``{"status_429": {"retry_after": 2}}``. Unknown keys are errors."""
        if isinstance(value, FaultSpec):
            return replace(value)
        if not isinstance(value, Mapping):
            raise ValueError("a fault spec is a JSON object")
        data = dict(value)
        if "kind" not in data:
            kinds = [k for k in FAULT_KINDS if k in data]
            if len(kinds) > 1:
                raise ValueError(f"several fault kinds given: {kinds}")
            if kinds:
                kind = kinds[0]
                arg = data.pop(kind) if kind != "break_after_tokens" else data[kind]
                if arg is False:
                    raise ValueError(f"{kind}: false is not a fault")
                if isinstance(arg, Mapping):
                    data.update(arg)
                data["kind"] = kind
        allowed = {f.name for f in fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_dict(self) -> JSON:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Decision:
    """A request's fault: an error to answer with, or a hang or a broken answer."""

    outcome: str  # "status_429" | "rate_limited" | "status_500" | ... | "hang" | "broken"
    spec: FaultSpec
    error: OpenAIError | None = None


@dataclass
class FaultState:
    """The counters of one model's fault; they restart when the model's fault is set again."""

    spec: FaultSpec
    failures: int = 0
    window: deque[float] = field(default_factory=deque)

    def decide(self, rng: random.Random) -> Decision | None:
        """The fault of the next request, counted (the caller holds the simulator's lock)."""
        spec = self.spec
        window = spec.rate_limit_window
        if window is not None:
            now = time.monotonic()
            horizon = now - window["seconds"]
            while self.window and self.window[0] <= horizon:
                self.window.popleft()
            if len(self.window) >= window["requests"]:
                retry = self.window[0] + window["seconds"] - now
                return Decision("rate_limited", spec, proto.rate_limit_exceeded(retry))
            self.window.append(now)
        if spec.kind is None:
            return None
        if spec.fail_times is not None and self.failures >= spec.fail_times:
            return None
        if spec.probability < 1.0 and rng.random() >= spec.probability:
            return None
        self.failures += 1
        return _decision(spec)


def _decision(spec: FaultSpec) -> Decision:
    kind = spec.kind
    if kind == "status_429":
        return Decision(kind, spec, proto.rate_limit_exceeded(spec.retry_after, spec.message))
    if kind == "status_500":
        return Decision(kind, spec, proto.server_error(spec.message, spec.code))
    if kind == "status_400":
        code = spec.code or "context_length_exceeded"
        if code == "context_length_exceeded":
            error = proto.context_length_exceeded(message=spec.message)
        else:
            error = proto.invalid_request(spec.message or f"Simulated error: {code}", None, code)
        return Decision(kind, spec, error)
    if kind == "hang":
        return Decision("hang", spec)
    return Decision("broken", spec)

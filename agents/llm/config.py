"""The model ring's configuration: which models, at which endpoints, with which limits.

`LLM_MODELS` lists the ring in order as `name[@base_url],...`; entries without an endpoint use
`LLM_BASE_URL`. Everything is checked once at start, and a bad entry is named in the error.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ModelEndpoint:
    """One model of the ring and where to reach it."""

    name: str
    base_url: str
    api_key: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.base_url}"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    prompt: float = 0.0
    completion: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1_000_000


@dataclass(frozen=True)
class RingPolicy:
    """Limits that shape retries, the breaker and the per-request budget."""

    max_retries: int = 2  # retries per model after the first attempt
    backoff_base: float = 0.5  # seconds; attempt n waits up to base * 2**n (full jitter)
    backoff_max: float = 8.0
    retry_after_max: float = 10.0  # a longer Retry-After means: fall back now, don't wait
    request_timeout: float = 60.0  # one HTTP call, including a whole stream
    first_token_timeout: float = 30.0  # a stream that says nothing for this long is dead
    budget: float = 120.0  # all attempts of one request, every model included
    # per purpose (chat, title, memory, judge), where it differs: a slow local model needs
    # longer for background work than a person should wait for an answer
    budgets: Mapping[str, float] = field(default_factory=dict)
    breaker_threshold: int = 5  # consecutive failures that open a model's breaker
    breaker_cooldown: float = 30.0  # seconds open before one probe is let through

    def budget_for(self, purpose: str) -> float:
        return self.budgets.get(purpose, self.budget)


@dataclass(frozen=True)
class RingConfig:
    models: tuple[ModelEndpoint, ...]
    judge_model: str
    policy: RingPolicy
    prices: dict[str, Price]

    def model(self, name: str) -> ModelEndpoint:
        for endpoint in self.models:
            if endpoint.name == name:
                return endpoint
        raise KeyError(name)

    def price(self, name: str) -> Price:
        return self.prices.get(name, Price())


def _check_url(url: str, entry: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(
            f"LLM_MODELS entry {entry!r}: {url!r} is not an http(s) URL like http://host:port/v1"
        )
    return url.rstrip("/")


def parse_models(spec: str, *, default_base_url: str, api_key: str) -> tuple[ModelEndpoint, ...]:
    """`gpt-4o,gpt-4o-mini@http://10.0.0.5:8000/v1` → endpoints, in ring order."""
    entries = [entry.strip() for entry in spec.split(",")]
    if not spec.strip() or any(not entry for entry in entries):
        raise ImproperlyConfigured(
            f"LLM_MODELS={spec!r} has an empty entry; expected name[@base_url],..."
        )
    endpoints = []
    for entry in entries:
        name, _, url = entry.partition("@")
        name = name.strip()
        if not name or any(ch.isspace() for ch in name):
            raise ImproperlyConfigured(f"LLM_MODELS entry {entry!r} has no valid model name")
        base_url = url.strip() or default_base_url
        if not base_url:
            raise ImproperlyConfigured(
                f"LLM_MODELS entry {entry!r} has no endpoint and LLM_BASE_URL is not set"
            )
        endpoints.append(ModelEndpoint(name, _check_url(base_url, entry), api_key))
    names = [endpoint.name for endpoint in endpoints]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"LLM_MODELS names {duplicates} more than once")
    return tuple(endpoints)


def parse_prices(raw: str) -> dict[str, Price]:
    """`{"gpt-4o": {"prompt": 2.5, "completion": 10}}` (USD per million tokens)."""
    try:
        table = json.loads(raw or "{}")
        return {name: Price(**values) for name, values in table.items()}
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"LLM_PRICES is not a valid price table: {exc}") from None


def build_config(settings) -> RingConfig:
    """The ring from Django settings (which read the environment)."""
    models = parse_models(
        settings.LLM_MODELS, default_base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY
    )
    judge = settings.LLM_JUDGE_MODEL or models[0].name
    if judge not in {endpoint.name for endpoint in models}:
        raise ImproperlyConfigured(f"LLM_JUDGE_MODEL={judge!r} is not one of LLM_MODELS")
    policy = RingPolicy(**settings.LLM_POLICY)
    budgets = [policy.budget, *policy.budgets.values()]
    if policy.max_retries < 0 or min(budgets) <= 0 or policy.breaker_threshold < 1:
        raise ImproperlyConfigured(f"LLM policy out of range: {policy}")
    return RingConfig(models, judge, policy, parse_prices(settings.LLM_PRICES))

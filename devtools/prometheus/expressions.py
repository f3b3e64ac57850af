"""The PromQL of ops/: dashboard panel targets (Grafana variables made concrete) and alert
rules (with the signal each compares to its threshold)."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

OPS = Path(__file__).resolve().parents[2] / "ops"
DASHBOARDS = OPS / "grafana" / "dashboards"
RULES = OPS / "prometheus"

# Grafana's built-in intervals, for a Prometheus scraping every second: rate() windows that
# hold many samples. A dashboard variable ($purpose, $view) becomes "all" (its allValue).
BUILT_IN_INTERVALS = {"__rate_interval": "1m", "__interval": "5s", "__range": "5m"}
ALL_VALUES = ".*"
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
# `<signal> <op> <number>` at the end of an alert's expression.
_THRESHOLD = re.compile(
    r"^(?P<signal>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+0-9.e]+)\s*$", re.S
)


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str  # as Prometheus is sent it: variables substituted

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel}: {self.expr}"


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str

    @property
    def signal(self) -> str | None:
        """What the rule compares with its threshold, or None if it is not that shape."""
        match = _THRESHOLD.match(self.expr.strip())
        return match["signal"] if match else None


def substitute_variables(expr: str) -> str:
    return _VARIABLE.sub(lambda m: BUILT_IN_INTERVALS.get(m[1], ALL_VALUES), expr)


def dashboards() -> Iterator[tuple[Path, dict]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        yield path, json.loads(path.read_text())


def panel_queries() -> Iterator[PanelQuery]:
    for _, dashboard in dashboards():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = substitute_variables(target["expr"])
                yield PanelQuery(dashboard["title"], panel["title"], expr)


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def alert_rules() -> Iterator[AlertRule]:
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield AlertRule(rule["alert"], rule["expr"])

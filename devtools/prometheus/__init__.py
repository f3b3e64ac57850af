"""A real Prometheus for tests (Debian's package, see .ci/ensure-prometheus) and the PromQL of
ops/: every dashboard panel's and alert rule's expression."""

from devtools.prometheus.expressions import (
    AlertRule,
    PanelQuery,
    alert_rules,
    panel_queries,
)
from devtools.prometheus.server import PROMETHEUS, PROMTOOL, PrometheusServer, ScrapeTarget

__all__ = (
    "PROMETHEUS",
    "PROMTOOL",
    "AlertRule",
    "PanelQuery",
    "PrometheusServer",
    "ScrapeTarget",
    "alert_rules",
    "panel_queries",
)

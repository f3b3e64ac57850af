"""ops/ as files: dashboards every panel of which says what it shows and in what unit, alert
rules and the compose Prometheus config that Debian's promtool accepts."""

import subprocess

import pytest
import yaml

from devtools.prometheus import PROMTOOL, alert_rules
from devtools.prometheus.expressions import OPS, dashboards, rule_files

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
EXPECTED = {"Overview", "Model ring", "Workers", "Quality", "Memory", "HTTP"}


def test_the_dashboards_of_the_issue_are_there_with_unique_uids():
    found = [dashboard for _, dashboard in dashboards()]
    assert {dashboard["title"].removeprefix("agentsite / ") for dashboard in found} == EXPECTED
    assert len({dashboard["uid"] for dashboard in found}) == len(found)


@pytest.mark.parametrize(
    "dashboard", [board for _, board in dashboards()], ids=[path.stem for path, _ in dashboards()]
)
def test_every_panel_has_a_unit_a_description_and_the_provisioned_datasource(dashboard):
    panels = dashboard["panels"]
    assert panels
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids repeat"
    for panel in panels:
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == DATASOURCE


def test_the_provisioned_datasource_has_the_uid_the_dashboards_use():
    provisioning = OPS / "grafana" / "provisioning" / "datasources"
    (config,) = [yaml.safe_load(path.read_text()) for path in provisioning.glob("*.y*ml")]
    assert [source["uid"] for source in config["datasources"]] == [DATASOURCE["uid"]]


def test_every_alert_compares_one_signal_with_a_threshold_for_a_while():
    rules = list(alert_rules())
    assert len(rules) >= 7
    for rule in rules:
        assert rule.signal, f"{rule.name}: not `<signal> <op> <number>`"
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert rule["for"], rule["alert"]
                assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
                assert rule["annotations"]["summary"], rule["alert"]


def test_compose_gives_prometheus_the_rules_and_the_workers_a_multiprocess_dir():
    compose = yaml.safe_load((OPS.parent / "docker-compose.yml").read_text())["services"]
    assert "./ops/prometheus:/etc/prometheus/rules:ro" in compose["prometheus"]["volumes"]
    for service in ("web", "worker"):
        directory = compose[service]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert any(mount.startswith(f"{directory}:") for mount in compose[service]["tmpfs"])


@pytest.mark.processes
def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.processes
def test_promtool_accepts_the_compose_config_with_its_rules(tmp_path):
    """The config as compose mounts it: the token file and rules folder where it expects them."""
    token = tmp_path / "metrics_token"
    token.write_text("test-token")
    config = (OPS / "prometheus.yml").read_text()
    assert "/etc/prometheus/metrics_token" in config
    assert "/etc/prometheus/rules/" in config
    config = config.replace("/etc/prometheus/metrics_token", str(token))
    config = config.replace("/etc/prometheus/rules/", f"{OPS / 'prometheus'}/")
    (tmp_path / "prometheus.yml").write_text(config)
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(list(alert_rules()))} rules found" in result.stdout


def promtool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)

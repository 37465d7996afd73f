"""Dashboards, rules and example configs: generated == committed, conventions, promtool and amtool."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.engine.selfmetrics import SelfMetrics
from exporter.vsxi.metrics import C as VSXI
from exporter.xivo.metrics import C as XIVO
from mixin.__main__ import outputs
from mixin.dashboards import dashboards
from mixin.rules import recording_rules, rule_files

ROOT = Path(__file__).parent.parent
RATE_FUNCS = ("rate", "irate", "increase")


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: .ci/run installs Debian's prometheus and prometheus-alertmanager"
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_committed_files_equal_the_generator():
    for path, text in outputs().items():
        assert path.exists(), f"{path} missing: run python -m mixin"
        assert path.read_text() == text, f"{path} differs from the generator: run python -m mixin"


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p["targets"]]


@pytest.mark.parametrize("dashboard", dashboards(), ids=lambda d: d["uid"])
def test_dashboard_conventions(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert "job" in variables and "target" in variables
    # Chained: each query variable after job filters on the variables before it.
    chain = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert chain[0]["name"] == "job"
    for previous, variable in zip(chain, chain[1:], strict=False):
        assert f"${previous['name']}" in variable["definition"], (variable["name"], previous["name"])
    text = json.dumps(dashboard)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        where = f"{dashboard['uid']}/{panel['title']}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
        assert panel["targets"], where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", where
            expr = target["expr"]
            for func in RATE_FUNCS:
                for window in re.findall(rf"\b{func}\((?:[^()]|\([^()]*\))*?\[([^\]]+)\]", expr):
                    assert window == "$__rate_interval", f"{where}: {func}() over [{window}]"
            assert 'job=~"$job"' in expr, f"{where}: not filtered by $job"
            for name in re.findall(r"\b((?:vsxi|xivo)_[a-z0-9_]+)\b", expr):
                assert name in known_metric_names(), f"{where}: unknown metric {name}"
    assert '"uid": "prometheus"' not in text and "grafana-prometheus" not in text  # no hard-coded datasource


def known_metric_names() -> set[str]:
    names = set()
    for spec in (*VSXI.specs.values(), *XIVO.specs.values()):
        names.add(spec.name)
        if spec.type == "gaugehistogram":
            names |= {spec.name + s for s in ("_bucket", "_gsum", "_gcount")}
    for name, type_, _, _ in SelfMetrics().reference():
        names.add(name)
        if type_ == "histogram":
            names |= {name + s for s in ("_bucket", "_sum", "_count")}
    for rule in recording_rules():
        names.add(rule["record"].split(":")[1])
    return names


def test_rules_use_only_metrics_that_exist():
    known = known_metric_names()
    recorded = {r["record"] for r in recording_rules()}
    for doc in rule_files().values():
        for rule in doc["groups"][0]["rules"]:
            for name in re.findall(r"(?<![:\w])((?:vsxi|xivo)_[a-z0-9_]+)\b", rule["expr"]):
                assert name in known, f"{rule.get('alert') or rule.get('record')}: unknown metric {name}"
            for name in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z]+)\b", rule["expr"]):
                assert name in recorded, f"{rule.get('alert')}: unknown recording rule {name}"


def test_rule_names_and_labels():
    for rule in recording_rules():
        level, metric, operation = rule["record"].split(":")
        assert level and metric and operation, rule["record"]
    alerts = rule_files()["alerts.yml"]["groups"][0]["rules"]
    for alert in alerts:
        assert re.fullmatch(r"VsxiXivo[A-Z][A-Za-z]+", alert["alert"])
        assert alert["labels"]["severity"] in ("critical", "warning", "info")
        assert alert["labels"]["component"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_every_alert_has_a_firing_unit_test():
    tests = yaml.safe_load((ROOT / "rules" / "tests" / "alerts_test.yml").read_text())
    fired, silent = set(), set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else silent).add(case["alertname"])
    alerts = {a["alert"] for a in rule_files()["alerts.yml"]["groups"][0]["rules"]}
    assert alerts == fired, alerts ^ fired
    assert alerts <= silent  # and a case where each stays silent


def test_promtool_check_and_test_rules():
    proc = run(tool("promtool"), "check", "rules", "rules/recording.yml", "rules/alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(tool("promtool"), "test", "rules", "rules/tests/alerts_test.yml", "rules/tests/recording_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == 2


def test_alertmanager_example():
    proc = run(tool("amtool"), "check-config", "examples/alertmanager.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The inhibitions name alerts that exist.
    config = yaml.safe_load((ROOT / "examples" / "alertmanager.yml").read_text())
    alerts = {a["alert"] for a in rule_files()["alerts.yml"]["groups"][0]["rules"]}
    named = []
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"]:
            m = re.fullmatch(r'alertname(=~?)"(.*)"', matcher)
            if m:
                exact = m.group(1) == "="
                named += [m.group(2)] if exact else [
                    f"VsxiXivo{n}" for n in re.fullmatch(r"VsxiXivo\((.*)\)", m.group(2)).group(1).split("|")]
    assert len(named) == 5 and set(named) <= alerts, set(named) - alerts


@pytest.mark.parametrize("example", ["prometheus-metrics.yml", "prometheus-probe.yml"])
def test_prometheus_examples(example, tmp_path):
    config = (ROOT / "examples" / "prometheus" / example).read_text()
    config = config.replace("/etc/prometheus/rules/", str(ROOT / "rules") + "/")
    (tmp_path / example).write_text(config)
    proc = run(tool("promtool"), "check", "config", str(tmp_path / example))
    assert proc.returncode == 0, proc.stdout + proc.stderr

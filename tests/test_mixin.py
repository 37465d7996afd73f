"""Dashboards, rules and example configs: generated == committed, conventions, promtool and amtool."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.registry import FAMILIES
from exporter.selfmetrics import SelfMetrics
from exporter.vsxi.metrics import CATALOG as VSXI
from exporter.xivo.metrics import CATALOG as XIVO
from mixin.__main__ import outputs
from mixin.dashboards import dashboards
from mixin.rules import recording_rules, rule_files

ROOT = Path(__file__).parent.parent
RATE_FUNCS = ("rate", "irate", "increase", "resets")  # resets(): a counter going back to zero (a restart)


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
            # A time series rates over $__rate_interval; a table of the last hour (an instant query) takes
            # increase(...[1h]), the figure it names, not a rate extrapolated from a few minutes.
            allowed = {"$__rate_interval", "1h"} if target.get("instant") else {"$__rate_interval"}
            for func in RATE_FUNCS:
                for window in re.findall(rf"\b{func}\((?:[^()]|\([^()]*\))*?\[([^\]]+)\]", expr):
                    assert window in allowed, f"{where}: {func}() over [{window}]"
            assert 'job=~"$job"' in expr, f"{where}: not filtered by $job"
            for name in re.findall(r"\b((?:vsxi|xivo)_[a-z0-9_]+)\b", expr):
                assert name in known_metric_names(), f"{where}: unknown metric {name}"
    assert '"uid": "prometheus"' not in text and "grafana-prometheus" not in text  # no hard-coded datasource
    # grafana/dashboard-linter's rules, in Python.
    assert dashboard["editable"] is False
    for variable in chain:
        assert variable["refresh"] == 2, f"{variable['name']}: refreshed on time range change"
        if variable["includeAll"]:
            assert variable["allValue"] == ".+" and variable["multi"], variable["name"]
    for panel in panels(dashboard):
        where = f"{dashboard['uid']}/{panel['title']}"
        assert panel["title"] and panel["description"].strip(), f"{where}: no description"
        for target in panel["targets"]:
            expr = target["expr"]
            assert not re.search(r'instance=~?"(?!\$instance")', expr), f"{where}: hard-coded instance"
            assert not re.search(r'job=~?"(?!\$job")', expr), f"{where}: hard-coded job"
            for name in re.findall(r"\b([a-z_:][a-z0-9_:]*_total)\b", expr):
                assert re.search(rf"\b(?:{'|'.join(RATE_FUNCS)})\(\s*{name}\b", expr), \
                    f"{where}: counter {name} outside rate()/increase()"


def known_metric_names() -> set[str]:
    names = set()
    from exporter.polling.status import CATALOG as COMMON  # vsxi_xivo_target_info

    for spec in (*VSXI.specs.values(), *XIVO.specs.values(), *COMMON.specs.values()):
        names.add(spec.name)
        if spec.type == "gaugehistogram":
            names |= {spec.name + s for s in ("_bucket", "_gsum", "_gcount")}
    for name, type_, _, _ in SelfMetrics(FAMILIES.values()).reference():
        names.add(name)
        if type_ == "histogram":
            names |= {name + s for s in ("_bucket", "_sum", "_count")}
    for rule in recording_rules():
        names.add(rule["record"].split(":")[1])
    return names


def test_every_device_metric_is_shown_used_or_excused():
    from exporter.registry import FAMILIES
    from mixin.dashboards import not_shown

    NOT_SHOWN = not_shown()
    used = " ".join([e for d in dashboards() for e in exprs(d)]
                    + [r["expr"] for doc in rule_files().values() for g in doc["groups"] for r in g["rules"]])
    for spec in (spec for family in FAMILIES.values() for spec in family.catalog.specs.values()):
        shown = re.search(rf"\b{spec.name}(?:_bucket|_gsum|_gcount)?\b", used) is not None
        assert shown != (spec.name in NOT_SHOWN), f"{spec.name}: on no panel nor rule and not in NOT_SHOWN" \
            if not shown else f"{spec.name}: shown, yet listed in NOT_SHOWN"
    recorded = [r["record"] for r in recording_rules()]
    panels_text = " ".join(e for d in dashboards() for e in exprs(d))
    alerts_text = " ".join(r["expr"] for r in rule_files()["alerts.yml"]["groups"][0]["rules"])
    records_text = " ".join(r["expr"] for r in recording_rules())  # a record another record reads is used
    for record in recorded:
        assert record in panels_text or record in alerts_text or re.search(rf"{record}\[", records_text), \
            f"recording rule {record} used by nothing"


def test_rules_use_only_metrics_that_exist():
    known = known_metric_names()
    recorded = {r["record"] for r in recording_rules()}
    for doc in rule_files().values():
        for rule in (r for g in doc["groups"] for r in g["rules"]):
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
        # The same summary for every alert of a name: a notification that groups them reads as one.
        assert "{{" not in alert["annotations"]["summary"], alert["alert"]


RULE_TESTS = sorted((ROOT / "rules" / "tests").glob("*_test.yml"))


def rule_test_groups() -> list[dict]:
    return [group for path in RULE_TESTS for group in yaml.safe_load(path.read_text())["tests"]]


def test_every_alert_has_a_firing_unit_test():
    fired, silent = set(), set()
    for group in rule_test_groups():
        for case in group.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else silent).add(case["alertname"])
    alerts = {a["alert"] for a in rule_files()["alerts.yml"]["groups"][0]["rules"]}
    assert alerts == fired, alerts ^ fired
    assert alerts <= silent  # and a case where each stays silent
    # And one scene (the busy evening) where every shipped alert is checked silent at once.
    assert any({c["alertname"] for c in group.get("alert_rule_test", []) if not c["exp_alerts"]} >= alerts
               for group in rule_test_groups()), "add the new alert to the busy-evening case"


def _minutes(duration: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+)([dhm])", duration):
        total += int(number) * {"d": 1440, "h": 60, "m": 1}[unit]
    return total


# Alerts about a condition that lasts (a level down, a device refusing, a trunk silent): their promtool cases
# must show the whole incident in one scene: firing at onset, still firing two hours or more later, and
# resolved after the recovery.
INCIDENT_ALERTS = {
    "VsxiXivoSbcSessionsCollapsed", "VsxiXivoFleetSessionsCollapsed", "VsxiXivoRegistrationsDropping",
    "VsxiXivoSbcAuthFailing", "VsxiXivoTrunkTrafficStopped", "VsxiXivoCarrierDegraded", "VsxiXivoSipPeersLost",
    "VsxiXivoPbxAuthFailing", "VsxiXivoQueueServiceLevelLow", "VsxiXivoQueueUnstaffed", "VsxiXivoDeviceFlapping",
    "VsxiXivoSiteUnreachable", "VsxiXivoSbcSessionsPredictedExhaustion", "VsxiXivoQueueWaitLong",
    "VsxiXivoQueueFull", "VsxiXivoExporterAbsent", "VsxiXivoExporterOverloaded", "VsxiXivoExporterDown",
    "VsxiXivoHaLocalUnhealthy", "VsxiXivoSbcFlowControlActive",
}


@pytest.mark.parametrize("alert", sorted(INCIDENT_ALERTS))
def test_incident_alerts_have_a_whole_timeline(alert):
    assert alert in {a["alert"] for a in rule_files()["alerts.yml"]["groups"][0]["rules"]}, alert
    for group in rule_test_groups():
        cases = [c for c in group.get("alert_rule_test", []) if c["alertname"] == alert]
        firing = sorted(_minutes(c["eval_time"]) for c in cases if c["exp_alerts"])
        quiet = [_minutes(c["eval_time"]) for c in cases if not c["exp_alerts"]]
        if firing and firing[-1] - firing[0] >= 120 and any(q > firing[-1] for q in quiet) \
                and any(q < firing[0] for q in quiet):
            return
    raise AssertionError(f"{alert}: no scene with onset (silent, then firing), firing 2 h later, and recovery")


def test_promtool_check_and_test_rules():
    proc = run(tool("promtool"), "check", "rules", "rules/recording.yml", "rules/alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(tool("promtool"), "test", "rules", *(str(path.relative_to(ROOT)) for path in RULE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(RULE_TESTS) >= 3


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
    assert len(named) == 11 and set(named) <= alerts, set(named) - alerts


def _matches(matcher: str, labels: dict) -> bool:
    m = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher)
    name, op, value = m.groups()
    actual = labels.get(name, "")
    return {"=": actual == value, "!=": actual != value, "=~": re.fullmatch(value, actual) is not None}[op]


def inhibited(config: dict, source: dict, target: dict) -> bool:
    """Alertmanager's inhibition: a firing source mutes a target when a rule's matchers match both and the
    labels in ``equal`` agree."""
    for rule in config["inhibit_rules"]:
        if all(_matches(m, source) for m in rule["source_matchers"]) and \
                all(_matches(m, target) for m in rule["target_matchers"]) and \
                all(source.get(k, "") == target.get(k, "") for k in rule.get("equal", [])):
            return True
    return False


def fired(name: str, severity: str | None = None, **labels: str) -> dict:
    """The labels an alert of ``name`` (of ``severity``, for an alert with two levels) carries: its rule's
    labels plus the series'."""
    rule = next(a for a in rule_files()["alerts.yml"]["groups"][0]["rules"] if a["alert"] == f"VsxiXivo{name}"
                and severity in (None, a["labels"]["severity"]))
    return {"alertname": rule["alert"], **rule["labels"], **labels}


def test_inhibitions_are_scoped():
    config = yaml.safe_load((ROOT / "examples" / "alertmanager.yml").read_text())
    assert all(rule.get("equal") for rule in config["inhibit_rules"]), "an inhibition without equal: mutes the fleet"
    down = fired("ExporterDown", job="vsxi", instance="exp-1:10188")
    assert inhibited(config, down, fired("SbcUnreachable", job="vsxi", instance="exp-1:10188", target="sbc-1"))
    assert not inhibited(config, down, fired("SbcUnreachable", job="vsxi", instance="exp-2:10188", target="sbc-9"))
    # An unknown probe target: the exporter is up, nothing else is muted.
    unknown = fired("ProbeTargetUnknown", job="vsxi-probe", instance="sbc-atl-3")
    for other in (fired("SbcUnreachable", job="vsxi-probe", instance="sbc-atl-1", target="sbc-atl-1"),
                  fired("TrunkAsrLow", job="vsxi-probe", instance="sbc-atl-2", target="sbc-atl-2"),
                  fired("MediaServerDown", job="vsxi-probe", instance="sbc-atl-3", target="sbc-atl-3")):
        assert not inhibited(config, unknown, other)
    # A site down pages once: its devices' unreachable alerts (which carry their site) are muted, not those of
    # another site, nor what its devices' alerts mute themselves.
    site = fired("SiteUnreachable", site="atl")  # counted over every job: no job label
    assert inhibited(config, site, fired("SbcUnreachable", job="vsxi", instance="exp-1:10188", target="sbc-atl-1",
                                         site="atl"))
    assert inhibited(config, site, fired("PbxUnreachable", job="vsxi", instance="exp-1:10188", target="pbx-atl-1",
                                         site="atl"))
    assert not inhibited(config, site, fired("SbcUnreachable", job="vsxi", instance="exp-1:10188",
                                             target="sbc-mia-1", site="mia"))
    # A device of the same site scraped by another (shard) job is muted too: the site is one.
    assert inhibited(config, site, fired("SbcUnreachable", job="vsxi-2", instance="exp-2:10188",
                                         target="sbc-atl-9", site="atl"))
    # A changed password pages once: the authentication alert mutes the same target's unreachable alert only.
    auth = fired("SbcAuthFailing", job="vsxi-xivo-exporter", instance="exp-1:10188", target="sbc-1")
    assert inhibited(config, auth, fired("SbcUnreachable", job="vsxi-probe", instance="sbc-1", target="sbc-1"))
    assert not inhibited(config, auth, fired("SbcUnreachable", job="vsxi-probe", instance="sbc-2", target="sbc-2"))
    # A dead exporter mutes its probes' failures (same exporter label), not another exporter's.
    exporter = fired("ExporterDown", job="vsxi-xivo-exporter", instance="exp-1:10188", exporter="exp-1:10188")
    assert inhibited(config, exporter, fired("ProbeFailing", job="vsxi-probe", instance="sbc-1",
                                             exporter="exp-1:10188"))
    assert not inhibited(config, exporter, fired("ProbeFailing", job="vsxi-probe", instance="sbc-2",
                                                 exporter="exp-2:10188"))
    # Roll-ups mute what they explain, within one Prometheus' cluster label.
    fleet = fired("FleetSessionsCollapsed", cluster="eu")
    assert inhibited(config, fleet, fired("SbcSessionsCollapsed", job="vsxi", target="sbc-1", cluster="eu"))
    assert not inhibited(config, fleet, fired("SbcSessionsCollapsed", job="vsxi", target="sbc-1", cluster="us"))
    assert not inhibited(config, fleet, fired("SbcUnreachable", job="vsxi", target="sbc-1", cluster="eu"))
    carrier = fired("CarrierDegraded", alias="CARRIER-X")
    assert inhibited(config, carrier, fired("TrunkTrafficStopped", job="vsxi", target="sbc-1", trunk_id="20",
                                            alias="CARRIER-X"))
    assert not inhibited(config, carrier, fired("TrunkTrafficStopped", job="vsxi", target="sbc-1", trunk_id="21",
                                                alias="CARRIER-Y"))
    assert not inhibited(config, site, fired("SbcAuthFailing", job="vsxi", instance="exp-1:10188",
                                             target="sbc-atl-2", site="atl"))
    sbc_down = fired("SbcUnreachable", job="vsxi", instance="exp-1:10188", target="sbc-1")
    assert inhibited(config, sbc_down, fired("TrunkAsrLow", job="vsxi", instance="exp-1:10188", target="sbc-1"))
    assert not inhibited(config, sbc_down, fired("TrunkAsrLow", job="vsxi", instance="exp-1:10188", target="sbc-2"))
    # Two levels: the critical mutes the warning of the same trunk, not another trunk's.
    critical = fired("TrunkSessionUtilisationHigh", "critical", job="vsxi", target="sbc-1", trunk_id="20")
    assert inhibited(config, critical, fired("TrunkSessionUtilisationHigh", "warning", job="vsxi", target="sbc-1",
                                             trunk_id="20"))
    assert not inhibited(config, critical, fired("TrunkSessionUtilisationHigh", "warning", job="vsxi",
                                                 target="sbc-1", trunk_id="21"))
    assert not inhibited(config, fired("SbcCpuBusy", "warning", job="vsxi", target="sbc-1"),
                         fired("SbcCpuBusy", "critical", job="vsxi", target="sbc-1"))


@pytest.mark.parametrize("example", ["prometheus-metrics.yml", "prometheus-probe.yml", "prometheus-sd.yml"])
def test_prometheus_examples(example, tmp_path):
    config = (ROOT / "examples" / "prometheus" / example).read_text()
    config = config.replace("/etc/prometheus/rules/", str(ROOT / "rules") + "/")
    (tmp_path / example).write_text(config)
    proc = run(tool("promtool"), "check", "config", str(tmp_path / example))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_runbook_section():
    from mixin.config import RUNBOOK_URL

    text = (ROOT / "docs" / "runbooks.md").read_text()
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    alerts = rule_files()["alerts.yml"]["groups"][0]["rules"]
    headings = re.findall(r"^## (\S+)$", text, re.M)
    assert len(headings) == len(set(headings)), "a runbook section written twice"
    # One section per alert name (an alert with a warning and a critical level has one).
    assert sorted(sections) == sorted({a["alert"].lower() for a in alerts})
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url == f"{RUNBOOK_URL}#{alert['alert'].lower()}"
        body = sections[alert["alert"].lower()]
        for part in ("**Meaning.**", "**Over time.**", "**Check first.**", "**Silence.**"):
            assert part in body, (alert["alert"], part)


def test_runbooks_name_only_reasons_the_exporter_gives():
    from exporter.reasons import COMMON

    known = set(COMMON) | {r for family in FAMILIES.values() for r in family.reasons}
    text = (ROOT / "docs" / "runbooks.md").read_text()
    named = set(re.findall(r'reason="([a-z0-9_]+)"', text))
    assert named >= {"timeout", "connection", "round_overrun", "memory_budget", "auth_failed"}, named
    assert named <= known, named - known
    for source in (ROOT / "mixin" / "runbook.md", *(ROOT / "exporter").glob("*/monitoring/runbook.md")):
        # Outside the generated list, a reason is written reason="..." so that this test reads it.
        for word in ("forbidden", "http_404", "`connect`"):
            assert word not in source.read_text(), (source, word)


def all_exprs() -> list[tuple[str, str]]:
    out = [(r.get("alert") or r["record"], r["expr"]) for doc in rule_files().values() for g in doc["groups"]
           for r in g["rules"]]
    return out + [(f"{d['uid']}/{p['title']}", t["expr"]) for d in dashboards() for p in panels(d)
                  for t in p["targets"]]


def test_queries_mean_the_same_on_prometheus_2_and_3():
    """Prometheus 3 writes le and quantile values as floats (le="60.0"), leaves range selectors open on the
    left (a range of one scrape interval can be empty) and renamed holt_winters; Debian's 2.42 runs the tests.
    Every shipped rule and panel avoids what would differ."""
    scrape_interval = 30  # seconds: the examples' and the exporter's default interval
    for where, expr in all_exprs():
        assert not re.search(r'\b(le|quantile)="', expr), f"{where}: a literal le/quantile value"
        assert "holt_winters" not in expr and "double_exponential_smoothing" not in expr, where
        for window in re.findall(r"\[([0-9][0-9a-z]*)(?::[0-9a-z]*)?\]", expr):
            assert _minutes(window) * 60 >= 4 * scrape_interval, f"{where}: range [{window}] under 4 scrapes"

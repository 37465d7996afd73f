"""End to end: two demo exporters (sharded), a real Prometheus with the shipped rules and both example scrape
styles, asserted through Prometheus' HTTP API: targets up (so Prometheus' hashmod routed every probe to the
replica that polls it), every dashboard query and variable returns data, every recording rule produces
series, and a fault injected in a simulator turns into a pending alert."""

import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import wait_for

from mixin.dashboards import dashboards
from mixin.rules import recording_rules

ROOT = Path(__file__).parent.parent
SUBSTITUTIONS = {"$__rate_interval": "30s", "$job": ".+", "$target": ".+", "$trunk": ".+", "$queue": ".+",
                 "$instance": ".+", "$window": "1h"}


def get(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def log_text(log, tail: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-tail:]


def start_prometheus(config: dict, tmp: Path, procs: list) -> str:
    """A real Prometheus on ``config`` (its process appended to ``procs``); returns its API base URL. It listens
    on port 0 and the port the kernel gave is read from its own "Listening on" log line: no port is picked
    here and bound later by another process."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus not found: .ci/run installs Debian's prometheus package"
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(tmp / "prometheus.log", "w+")
    server = subprocess.Popen(
        [prometheus, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         "--web.listen-address=127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=log)
    procs.append(server)

    def listening():
        if server.poll() is not None:
            raise AssertionError(f"Prometheus exited with {server.returncode}: {log_text(log)}")
        m = re.search(r'msg="Listening on" address=(127\.0\.0\.1:\d+)', log_text(log, 100_000))
        return m and m.group(1)

    api = f"http://{wait_for(listening, 30, 'Prometheus to listen')}/api/v1"
    wait_for(lambda: get(f"{api}/status/buildinfo"), 30, "Prometheus' API")
    return api


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    procs, exporters, controls = [], [], {}
    try:
        for shard in ("0/2", "1/2"):
            # Port 0: the exporter binds a free port itself and prints it (no window for another process to
            # take a port picked here); stderr kept so a replica that dies says why.
            log = open(tmp / f"exporter-{shard[0]}.log", "w+")
            proc = subprocess.Popen([sys.executable, "-m", "exporter", "--demo", "--config.shard", shard,
                                     "--web.listen-address", "127.0.0.1:0"],
                                    stdout=subprocess.PIPE, stderr=log, text=True)
            procs.append(proc)
            banner = re.search(r"metrics at http://(127\.0\.0\.1:\d+)/metrics", proc.stdout.readline())
            assert banner, f"replica {shard} printed no banner (rc {proc.poll()}): {log_text(log)}"
            exporters.append(banner.group(1))
            for _ in range(4):
                line = proc.stdout.readline()
                m = re.match(r"\s+(\S+): inject faults with curl (?:-k )?-X PATCH (\S+) (.*)$", line)
                assert m, f"replica {shard} printed {line!r} (rc {proc.poll()}): {log_text(log)}"
                if "not polled" not in m.group(3):
                    assert m.group(1) not in controls, f"{m.group(1)} polled by both replicas"
                    controls[m.group(1)] = m.group(2)
        assert len(controls) == 4, controls  # every demo device is polled by exactly one replica

        # The shipped example configs, pointed at the two local exporters, with short intervals.
        probe = yaml.safe_load((ROOT / "examples/prometheus/prometheus-probe.yml").read_text())
        metrics = yaml.safe_load((ROOT / "examples/prometheus/prometheus-metrics.yml").read_text())
        text = yaml.safe_dump(probe).replace("exporter-0:10188", exporters[0]).replace("exporter-1:10188",
                                                                                         exporters[1])
        config = yaml.safe_load(text)
        for job in config["scrape_configs"]:
            if job["metrics_path"] == "/probe":
                job["static_configs"] = [{"targets": ["sbc-demo-xml", "sbc-demo-json", "pbx-demo-xivo16",
                                                      "pbx-demo-wazo"]}]
        whole = metrics["scrape_configs"][0]
        whole["job_name"] = "vsxi-xivo-exporter-whole"
        whole["static_configs"] = [{"targets": [exporters[0]]}]
        config["scrape_configs"].append(whole)
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
        # The rules as shipped, the capacity group's interval (5m) shortened like the others.
        recording = yaml.safe_load((ROOT / "rules/recording.yml").read_text())
        for group in recording["groups"]:
            group.pop("interval", None)
        (tmp / "recording.yml").write_text(yaml.safe_dump(recording))
        config["rule_files"] = [str(tmp / "recording.yml"), str(ROOT / "rules/alerts.yml")]
        config.pop("alerting")
        api = start_prometheus(config, tmp, procs)
        yield {"api": api, "controls": controls}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def query(api: str, expr: str) -> list:
    data = get(f"{api}/query?" + urllib.parse.urlencode({"query": expr}))
    assert data["status"] == "success", data
    return data["data"]["result"]


def substitute(expr: str) -> str:
    for key in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(key, SUBSTITUTIONS[key])
    return expr


def test_targets_up_through_both_scrape_styles(stack):
    def all_up():
        targets = get(f"{stack['api']}/targets")["data"]["activeTargets"]
        return len(targets) == 7 and all(t["health"] == "up" for t in targets) and targets
    targets = wait_for(all_up, 30, "7 healthy targets (2 exporters, 4 probes, 1 whole /metrics)")
    probes = {t["labels"]["instance"] for t in targets if t["scrapePool"].startswith("vsxi-xivo-devices")}
    assert probes == {"sbc-demo-xml", "sbc-demo-json", "pbx-demo-xivo16", "pbx-demo-wazo"}
    for name in probes:
        assert wait_for(lambda n=name: query(stack["api"], f'vsxi_up{{instance="{n}"}} == 1 or '
                                                           f'xivo_up{{instance="{n}"}} == 1'), 20, f"{name} up")


def test_every_dashboard_query_and_variable_returns_data(stack):
    """Each query is retried until it returns data (rate() windows need a few scrapes; another test of this
    module may have just ended a fault), with a generous deadline per query, never a fixed sleep."""
    api = stack["api"]
    empty = []

    def has_data(check, what: str) -> None:
        try:
            wait_for(check, 40 if not empty else 5, what)  # once one is empty, the rest only get a short wait
        except AssertionError:
            empty.append(what)

    for dashboard in dashboards():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
            url = f"{api}/label/{m.group(2)}/values?" + urllib.parse.urlencode({"match[]": substitute(m.group(1))})
            has_data(lambda u=url: get(u)["data"], f"{dashboard['uid']} variable {variable['name']}")
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = substitute(target["expr"])
                has_data(lambda e=expr: query(api, e), f"{dashboard['uid']} / {panel['title']}: {target['expr']}")
    assert not empty, "\n".join(empty)


def test_every_recording_rule_produces_series(stack):
    """Every recording rule evaluates without error on the exporter's real output; those that read no history
    (no ``offset``) give series within seconds. The others (the levels held before a drop, the last hour's
    service level) need 15 minutes to an hour of it: their values over time are promtool's to check."""
    def healthy():
        groups = get(f"{stack['api']}/rules?type=record")["data"]["groups"]
        rules = {r["name"]: r for g in groups for r in g["rules"]}
        return all(r["health"] == "ok" and not r.get("lastError") for r in rules.values()) and rules
    rules = wait_for(healthy, 30, "every recording rule evaluated without error")
    assert set(rules) == {r["record"] for r in recording_rules()}
    for rule in recording_rules():
        if "offset" not in rule["expr"]:
            assert wait_for(lambda r=rule: query(stack["api"], r["record"]), 30, rule["record"])


def test_injected_fault_makes_the_alert_pending(stack):
    """The fault is ended in ``finally`` and the device is seen up again before the test returns: the module's
    other tests share the stack and may run after this one, in any order."""
    api = stack["api"]

    def patch(method: str, faults: bytes) -> None:
        request = urllib.request.Request(stack["controls"]["sbc-demo-json"], data=faults, method=method,
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()

    def pending():
        alerts = get(f"{api}/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "VsxiXivoSbcUnreachable"]

    with urllib.request.urlopen(stack["controls"]["sbc-demo-json"], timeout=5) as resp:
        before = resp.read()  # the demo device's own faults (it answers as other firmware writes)
    patch("PATCH", b'{"status": 503}')
    try:
        alerts = wait_for(pending, 40, "VsxiXivoSbcUnreachable pending")
        assert {a["labels"]["target"] for a in alerts} == {"sbc-demo-json"}
        assert {a["state"] for a in alerts} == {"pending"}  # fires after its `for` (5m), longer than this test
        assert all(a["labels"]["severity"] == "critical" for a in alerts)
    finally:
        patch("PUT", before)  # the demo device's faults back to what they were
        wait_for(lambda: query(api, 'vsxi_up{target="sbc-demo-json"} == 1'), 40, "sbc-demo-json up again")
    wait_for(lambda: not pending(), 40, "VsxiXivoSbcUnreachable resolved")

"""End to end: two demo exporters (sharded), a real Prometheus with the shipped rules and both example scrape
styles, asserted through Prometheus' HTTP API: targets up (so Prometheus' hashmod routed every probe to the
replica that polls it), every dashboard query and variable returns data, every recording rule produces
series, and a fault injected in a simulator turns into a pending alert."""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from mixin.dashboards import dashboards
from mixin.rules import recording_rules

ROOT = Path(__file__).parent.parent
SUBSTITUTIONS = {"$__rate_interval": "30s", "$job": ".+", "$target": ".+", "$trunk": ".+", "$queue": ".+",
                 "$instance": ".+", "$window": "1h"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def log_text(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]


def start_prometheus(config: dict, tmp: Path, procs: list) -> str:
    """A real Prometheus on ``config`` (its process appended to ``procs``); returns its API base URL."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus not found: .ci/run installs Debian's prometheus package"
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    for _ in range(3):  # a port picked here can be taken before Prometheus binds it: try another
        port = free_port()
        server = subprocess.Popen(
            [prometheus, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(server)
        api = f"http://127.0.0.1:{port}/api/v1"
        wait_for(lambda s=server, a=api: s.poll() is not None or get(f"{a}/status/buildinfo"), 30, "Prometheus")
        if server.poll() is None:
            return api
    raise AssertionError(f"Prometheus exited with {server.returncode}")


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
                m = re.match(r"\s+(\S+): inject faults with curl -X PATCH (\S+) (.*)$", line)
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
        config["rule_files"] = [str(ROOT / "rules/recording.yml"), str(ROOT / "rules/alerts.yml")]
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
    api = stack["api"]
    wait_for(lambda: query(api, "target_trunk_id_direction_window:vsxi_trunk_window_answer_seizure:ratio"), 40,
             "recording rules")
    time.sleep(3)  # a few scrapes for rate() windows
    empty = []
    for dashboard in dashboards():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
            values = get(f"{api}/label/{m.group(2)}/values?" + urllib.parse.urlencode(
                {"match[]": substitute(m.group(1))}))["data"]
            if not values:
                empty.append(f"{dashboard['uid']} variable {variable['name']}")
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                if not query(api, substitute(target["expr"])):
                    empty.append(f"{dashboard['uid']} / {panel['title']}: {target['expr']}")
    assert not empty, "\n".join(empty)


def test_every_recording_rule_produces_series(stack):
    for rule in recording_rules():
        assert wait_for(lambda r=rule: query(stack["api"], r["record"]), 30, rule["record"])


def test_injected_fault_makes_the_alert_pending(stack):
    api = stack["api"]
    request = urllib.request.Request(stack["controls"]["sbc-demo-json"], data=b'{"status": 503}', method="PATCH",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()

    def pending():
        alerts = get(f"{api}/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "VsxiXivoSbcUnreachable"]
    alerts = wait_for(pending, 40, "VsxiXivoSbcUnreachable pending")
    assert {a["labels"]["target"] for a in alerts} == {"sbc-demo-json"}
    assert {a["state"] for a in alerts} == {"pending"}  # fires after its `for` (5m), longer than this test
    assert all(a["labels"]["severity"] == "critical" for a in alerts)

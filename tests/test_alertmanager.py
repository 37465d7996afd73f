"""What pages: a real Alertmanager (Debian's prometheus-alertmanager, on loopback) runs the shipped
examples/alertmanager.yml, with its timings shortened and its receivers pointed at a webhook in this test.
The alerts posted are those the rules fire in the promtool scenes of rules/tests/alerts_test.yml (their
expected labels and annotations, which promtool checks against the rules), so what is counted here is what the
shipped rules and the shipped routing page for one incident."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
SCENES = yaml.safe_load((ROOT / "rules" / "tests" / "alerts_test.yml").read_text())["tests"]
# Timings shortened so that a test takes seconds; routing, grouping and inhibitions are the shipped ones.
GROUP_WAIT = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """The receivers' endpoint: each notification Alertmanager sends, by receiver."""

    def __init__(self) -> None:
        self.notifications: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pages(self) -> list[dict]:
        return [n for n in self.notifications if n["receiver"] == "pager" and n["status"] == "firing"]

    def tickets(self) -> list[dict]:
        return [n for n in self.notifications if n["receiver"] == "tickets" and n["status"] == "firing"]


@pytest.fixture
def alertmanager(tmp_path):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "prometheus-alertmanager not found: .ci/run installs Debian's prometheus-alertmanager"
    webhook = Webhook()
    config = yaml.safe_load((ROOT / "examples" / "alertmanager.yml").read_text())
    route = config["route"]
    route["group_wait"], route["group_interval"] = f"{GROUP_WAIT:g}s", "1m"
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"http://127.0.0.1:{webhook.port}/{receiver['name']}"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "Alertmanager not ready"
        time.sleep(0.1)
    try:
        yield url, webhook
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        webhook.server.shutdown()


def fired(scene_series: str, eval_time: str) -> list[dict]:
    """Every alert a promtool scene (the test group with an input series containing ``scene_series``) expects
    firing at ``eval_time``: its labels (with alertname) and annotations."""
    (scene,) = [g for g in SCENES if any(scene_series in s["series"] for s in g["input_series"])]
    alerts = []
    for case in scene["alert_rule_test"]:
        if case["eval_time"] == eval_time:
            for expected in case["exp_alerts"]:
                labels = {k: str(v) for k, v in expected["exp_labels"].items()}  # YAML reads trunk_id 20 as a number
                alerts.append({"labels": {"alertname": case["alertname"], **labels},
                               "annotations": expected.get("exp_annotations", {})})
    assert alerts, (scene_series, eval_time)
    return alerts


def post(url: str, alerts: list[dict]) -> None:
    # Starting now, as Prometheus sends an alert when it fires (one started long ago would skip the group wait,
    # and with it the moment the inhibitions take hold).
    now = datetime.now(UTC)
    body = [{**a, "startsAt": now.isoformat(),
             "endsAt": (now + timedelta(hours=1)).isoformat()} for a in alerts]
    request = urllib.request.Request(f"{url}/api/v2/alerts", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def settle(webhook: Webhook, seconds: float = GROUP_WAIT + 4) -> None:
    """Past the group wait, until no notification has arrived for a second."""
    deadline = time.monotonic() + seconds
    seen = -1
    while time.monotonic() < deadline or len(webhook.notifications) != seen:
        seen = len(webhook.notifications)
        time.sleep(1)


def names(notification: dict) -> list[str]:
    return sorted({a["labels"]["alertname"] for a in notification["alerts"]})


def test_a_changed_password_pages_once(alertmanager):
    url, webhook = alertmanager
    alerts = fired('auth_failures_total{job="vsxi-xivo-exporter", instance="exp-1:10188", family="vsxi", '
                   'target="sbc-1"', "125m")
    assert {a["labels"]["alertname"] for a in alerts} == {"VsxiXivoSbcAuthFailing", "VsxiXivoSbcUnreachable"}
    post(url, alerts)
    settle(webhook)
    pages = webhook.pages()
    assert [names(p) for p in pages] == [["VsxiXivoSbcAuthFailing"]], pages
    assert webhook.tickets() == []


def test_a_site_down_across_two_shard_jobs_pages_once(alertmanager):
    url, webhook = alertmanager
    alerts = fired('target="sbc-atl-01"', "150m")
    jobs = {a["labels"].get("job") for a in alerts if a["labels"].get("site") == "atl"}
    assert jobs >= {"vsxi-xivo-devices-0", "vsxi-xivo-devices-1"}, jobs  # the scene is split over two jobs
    post(url, alerts)
    settle(webhook)
    pages = {tuple(names(p)): p for p in webhook.pages()}
    # The sites (atl, and the targets without one) page once together; their devices are muted. phl's two
    # device faults are no site outage: they page as themselves, in one notification.
    assert sorted(pages) == [("VsxiXivoSbcUnreachable",), ("VsxiXivoSiteUnreachable",)], list(pages)
    devices = sorted(a["labels"]["target"] for a in pages[("VsxiXivoSbcUnreachable",)]["alerts"])
    assert devices == ["sbc-phl-01", "sbc-phl-02"]
    sites = sorted(a["labels"].get("site", "") for a in pages[("VsxiXivoSiteUnreachable",)]["alerts"])
    assert sites == ["", "atl"]


def test_a_collapse_on_hundreds_of_sbcs_is_a_handful_of_pages(alertmanager):
    """The scene's six SBCs, as 400: one core-network event."""
    url, webhook = alertmanager
    alerts = fired('target="sbc-f01"', "160m")
    fleet = [a for a in alerts if a["labels"]["alertname"] == "VsxiXivoFleetSessionsCollapsed"]
    own = [a for a in alerts if a["labels"]["alertname"] == "VsxiXivoSbcSessionsCollapsed"]
    assert len(fleet) == 1 and len(own) == 6
    many = [{"labels": {**own[i % 6]["labels"], "target": f"sbc-{i:03d}", "job": f"vsxi-xivo-devices-{i % 4}"},
             "annotations": own[i % 6]["annotations"]} for i in range(400)]
    post(url, many + fleet)
    settle(webhook)
    pages = webhook.pages()
    assert [names(p) for p in pages] == [["VsxiXivoFleetSessionsCollapsed"]], [names(p) for p in pages]


def test_without_the_fleet_alert_each_collapse_is_listed_in_one_notification(alertmanager):
    """The grouping alone (no roll-up firing): 400 SBCs are one notification that lists them, not 400."""
    url, webhook = alertmanager
    own = [a for a in fired('target="sbc-f01"', "160m") if a["labels"]["alertname"] == "VsxiXivoSbcSessionsCollapsed"]
    first = own[0]["labels"]["target"]
    post(url, [{"labels": {**own[0]["labels"], "target": f"sbc-{i:03d}"},
                "annotations": {k: v.replace(first, f"sbc-{i:03d}") for k, v in own[0]["annotations"].items()}}
               for i in range(400)])
    settle(webhook)
    pages = webhook.pages()
    assert len(pages) == 1 and len(pages[0]["alerts"]) == 400
    # The summary reads the same for all 400 (the notification's title); each description names its SBC.
    assert pages[0]["commonAnnotations"]["summary"] == "SBC active sessions collapsed"
    assert pages[0]["alerts"][7]["annotations"]["description"].startswith(pages[0]["alerts"][7]["labels"]["target"])


def test_a_dead_exporter_in_the_probe_style_pages_once(alertmanager):
    url, webhook = alertmanager
    alerts = fired('up{job="vsxi-probe", instance="sbc-atl-1", exporter="exp-1:10188"}', "10m")
    assert {a["labels"]["alertname"] for a in alerts} >= {"VsxiXivoExporterDown", "VsxiXivoProbeFailing"}
    post(url, alerts)
    settle(webhook)
    assert [names(p) for p in webhook.pages()] == [["VsxiXivoExporterDown"]]
    assert webhook.tickets() == []  # its probes' failures are muted under it


def test_a_carrier_degraded_on_several_sbcs_is_one_ticket(alertmanager):
    url, webhook = alertmanager
    alerts = fired('alias="CARRIER-Y"', "295m")
    assert {a["labels"]["alertname"] for a in alerts} == {"VsxiXivoTrunkTrafficStopped", "VsxiXivoCarrierDegraded"}
    post(url, alerts)
    settle(webhook)
    tickets = {tuple(names(t)): t for t in webhook.tickets()}
    # CARRIER-X's three trunks are muted under its roll-up; sbc-4's trunk (another carrier) is told alone.
    assert sorted(tickets) == [("VsxiXivoCarrierDegraded",), ("VsxiXivoTrunkTrafficStopped",)]
    stopped = tickets[("VsxiXivoTrunkTrafficStopped",)]["alerts"]
    assert [a["labels"]["target"] for a in stopped] == ["sbc-4"]

"""End to end: a real Prometheus whose only scrape config for the devices is ``http_sd_configs`` pointing at
two sharded demo replicas' ``/sd``: each device is scraped exactly once, through ``/probe`` on the replica that
polls it, with no list of names and no hashmod relabelling in Prometheus."""

from __future__ import annotations

import urllib.parse

import yaml
from helpers import Exporter
from test_e2e import ROOT, get, query, start_prometheus, wait_for

DEVICES = {"sbc-demo-xml", "sbc-demo-json", "pbx-demo-xivo16", "pbx-demo-wazo"}


def test_http_service_discovery_scrapes_every_device_once_on_the_replica_that_polls_it(tmp_path):
    procs = []
    replicas = [Exporter("--demo", "--config.shard", "0/2"), Exporter("--demo", "--config.shard", "1/2")]
    try:
        addresses = [r.url.removeprefix("http://") for r in replicas]
        # The shipped example, pointed at the two replicas, with short intervals.
        config = yaml.safe_load((ROOT / "examples/prometheus/prometheus-sd.yml").read_text())
        (job,) = config["scrape_configs"]
        job["http_sd_configs"] = [{"url": f"http://{a}/sd", "refresh_interval": "2s"} for a in addresses]
        job.update(scrape_interval="1s", scrape_timeout="1s")
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
        api = start_prometheus(config, tmp_path, procs)

        def all_up():
            targets = get(f"{api}/targets")["data"]["activeTargets"]
            return len(targets) == 4 and all(t["health"] == "up" for t in targets) and targets
        targets = wait_for(all_up, 40, "4 healthy targets discovered through /sd")
        assert sorted(t["labels"]["instance"] for t in targets) == sorted(DEVICES)  # each exactly once
        for t in targets:  # scraped on the replica that polls it: the only one whose /probe knows the name
            assert t["scrapeUrl"].split("/probe")[0].removeprefix("http://") in addresses
        for name in DEVICES:
            family = "vsxi" if name.startswith("sbc") else "xivo"
            expr = f'{family}_up{{job="vsxi-xivo-devices", instance="{name}", family="{family}"}} == 1'
            assert wait_for(lambda e=expr: query(api, e), 30, f"{name} up through /sd")
        assert query(api, "vsxi_system_active_sessions{job=\"vsxi-xivo-devices\"}")  # device series present
        assert query(api, 'count(up{job="vsxi-xivo-devices"} == 1) == 4')
        assert urllib.parse.urlsplit(targets[0]["scrapeUrl"]).query.startswith("target=")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        for replica in replicas:
            replica.stop()

"""Every supported deployment alerts the same: each shipped scrape configuration (the README's, the Prometheus
files of examples/prometheus/, the Kubernetes ServiceMonitors and ScrapeConfigs) gives its jobs names that the
rules' job selectors match (the exporter's own /metrics as an exporter job, /probe as a probe job), and each
probe an `exporter` label equal to the one VsxiXivoExporterDown carries for the exporter it goes to, so that
Alertmanager mutes a dead exporter's probe failures under it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import relabel

from mixin.config import EXPORTER_JOB_SELECTOR, PROBE_JOB_SELECTOR

ROOT = Path(__file__).parent.parent
SELECTORS = {"exporter": EXPORTER_JOB_SELECTOR, "probe": PROBE_JOB_SELECTOR}


def selector_regex(selector: str) -> str:
    return re.fullmatch(r'job=~"(.*)"', selector).group(1)


def kind(path: str) -> str:
    return "probe" if path == "/probe" else "exporter"


def assert_job_matches(name: str, path: str, where: str) -> None:
    own, other = SELECTORS[kind(path)], SELECTORS["probe" if kind(path) == "exporter" else "exporter"]
    assert re.fullmatch(selector_regex(own), name), f"{where}: job {name!r} ({path}) does not match {own}"
    assert not re.fullmatch(selector_regex(other), name), f"{where}: job {name!r} ({path}) matches {other} too"


def exporter_label(labels: dict[str, str]) -> str:
    """The `exporter` label VsxiXivoExporterDown carries for a scraped exporter (mixin.rules._exporter_down):
    the scrape's own, else its instance."""
    return labels.get("exporter") or labels["instance"]


# --- Prometheus files: the README's blocks and examples/prometheus/ ---

def prometheus_configs() -> dict[str, dict]:
    out = {}
    readme = (ROOT / "README.md").read_text()
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", readme, re.S)):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and "scrape_configs" in doc:
            out[f"README.md block {i}"] = doc
    for path in sorted((ROOT / "examples" / "prometheus").glob("*.yml")):
        out[str(path.relative_to(ROOT))] = yaml.safe_load(path.read_text())
    return out


def test_every_shipped_prometheus_file_is_checked():
    names = set(prometheus_configs())
    assert {"examples/prometheus/prometheus-metrics.yml", "examples/prometheus/prometheus-probe.yml",
            "examples/prometheus/prometheus-sd.yml"} <= names
    assert sum(n.startswith("README.md") for n in names) == 2, names


@pytest.mark.parametrize("where", sorted(prometheus_configs()))
def test_prometheus_jobs_match_the_rules(where):
    for job in prometheus_configs()[where]["scrape_configs"]:
        assert_job_matches(job["job_name"], job.get("metrics_path", "/metrics"), where)


def static_exporters(config: dict) -> dict[str, str]:
    """address -> the exporter label of each statically scraped exporter job."""
    out = {}
    for job in config["scrape_configs"]:
        if kind(job.get("metrics_path", "/metrics")) == "exporter":
            for static in job.get("static_configs", []):
                for address in static["targets"]:
                    labels = relabel({"__address__": address, "instance": address}, job.get("relabel_configs", []))
                    out[address] = exporter_label(labels)
    return out


@pytest.mark.parametrize("where", [w for w, c in prometheus_configs().items()
                                   if any(j.get("metrics_path") == "/probe" for j in c["scrape_configs"])])
def test_each_probe_names_the_exporter_it_goes_to(where):
    config = prometheus_configs()[where]
    exporters = static_exporters(config)
    probed = 0
    for job in config["scrape_configs"]:
        if job.get("metrics_path") != "/probe":
            continue
        if "http_sd_configs" in job:  # /sd: the exporter that listed the device is in its meta label
            sd_exporters = [re.fullmatch(r"https?://([^/]+)/sd", c["url"]).group(1) for c in job["http_sd_configs"]]
            for address in sd_exporters:
                labels = relabel({"__address__": "sbc-atl-1", "__meta_vsxi_xivo_exporter": address,
                                  "__meta_vsxi_xivo_family": "vsxi"}, job["relabel_configs"])
                assert labels["__address__"] == address and labels["exporter"] == address, (where, labels)
                probed += 1
            continue
        for static in job["static_configs"]:
            for device in static["targets"]:
                labels = relabel({"__address__": device}, job["relabel_configs"])
                if labels is None:  # another shard's
                    continue
                assert labels["instance"] == device, (where, labels)
                assert labels.get("exporter"), f"{where}: probe of {device} has no exporter label"
                if exporters:
                    assert labels["exporter"] == exporters[labels["__address__"]], (where, labels)
                probed += 1
    assert probed, where


# --- Kubernetes: the ServiceMonitors and ScrapeConfigs of examples/kubernetes/ ---

def k8s(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / "kubernetes" / name).read_text())


def k8s_jobs() -> list[tuple[str, str, str]]:
    """(manifest, job name as prometheus-operator sets it, path) for every scrape the manifests define."""
    jobs = []
    services = {k8s("service.yaml")["metadata"]["name"]}
    for path in sorted((ROOT / "examples" / "kubernetes").glob("*.yaml")):
        doc = k8s(path.name)
        if doc["kind"] == "ServiceMonitor":
            # The job is the Service's name unless jobLabel names a label of the Service to take it from.
            assert "jobLabel" not in doc["spec"], path.name
            (service,) = services
            jobs += [(path.name, service, e.get("path", "/metrics")) for e in doc["spec"]["endpoints"]]
        elif doc["kind"] == "ScrapeConfig":
            meta = doc["metadata"]
            job = doc["spec"].get("jobName") or f"scrapeConfig/{meta.get('namespace', 'monitoring')}/{meta['name']}"
            jobs.append((path.name, job, doc["spec"].get("metricsPath", "/metrics")))
    return jobs


def test_every_kubernetes_scrape_is_checked():
    manifests = {m for m, _, _ in k8s_jobs()}
    assert manifests == {"servicemonitor.yaml", "servicemonitor-exporter.yaml", "scrapeconfig-probe.yaml",
                         "scrapeconfig-sd.yaml"}, manifests


@pytest.mark.parametrize("manifest, job, path", k8s_jobs())
def test_kubernetes_jobs_match_the_rules(manifest, job, path):
    assert_job_matches(job, path, manifest)


def test_a_scrapeconfig_without_job_name_would_be_caught():
    """prometheus-operator names such a job scrapeConfig/<namespace>/<name>: no selector matches it."""
    with pytest.raises(AssertionError):
        assert_job_matches("scrapeConfig/monitoring/vsxi-xivo-devices", "/probe", "scrapeconfig-probe.yaml")


def pod_exporter_label(pod: str) -> str:
    """The exporter label the ServiceMonitors give a pod's own scrape."""
    monitor = k8s("servicemonitor-exporter.yaml")
    (endpoint,) = monitor["spec"]["endpoints"]
    labels = relabel({"__meta_kubernetes_pod_name": pod, "__address__": "10.0.0.7:10188",
                      "instance": "10.0.0.7:10188"}, endpoint.get("relabelings", []))
    return exporter_label(labels)


def test_kubernetes_probes_name_the_pod_they_go_to():
    statefulset = k8s("statefulset.yaml")
    name, replicas = statefulset["metadata"]["name"], statefulset["spec"]["replicas"]
    for index in range(replicas):
        pod = f"{name}-{index}"
        assert pod_exporter_label(pod) == pod  # the pod's own scrape: its name, not its changing IP
        address = f"{pod}.{name}.monitoring.svc:10188"
        sd = relabel({"__address__": "sbc-atl-1", "__meta_vsxi_xivo_exporter": address,
                      "__meta_vsxi_xivo_family": "vsxi"}, k8s("scrapeconfig-sd.yaml")["spec"]["relabelings"])
        assert (sd["__address__"], sd["exporter"]) == (address, pod)
    # The static probes: whichever pod hashmod sends a device to, its exporter label names that pod.
    spec = k8s("scrapeconfig-probe.yaml")["spec"]
    seen = set()
    for device in [*spec["staticConfigs"][0]["targets"], *(f"sbc-{i:03d}" for i in range(60))]:
        labels = relabel({"__address__": device}, spec["relabelings"])
        pod = re.fullmatch(rf"({name}-\d+)\.{name}\.monitoring\.svc:10188", labels["__address__"]).group(1)
        assert labels["exporter"] == pod == pod_exporter_label(pod)
        seen.add(pod)
    assert len(seen) == replicas
    # The whole-exporter ServiceMonitor labels its scrapes the same way.
    (endpoint,) = k8s("servicemonitor.yaml")["spec"]["endpoints"]
    assert relabel({"__meta_kubernetes_pod_name": f"{name}-0"}, endpoint["relabelings"])["exporter"] == f"{name}-0"

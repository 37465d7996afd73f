"""examples/kubernetes/: every manifest valid against the Kubernetes schemas (kubernetes-validate, strict) or
the prometheus-operator CRD schemas (vendored, tests/schemas/), the shard count written consistently, and the
wiring from pod ordinal to --config.shard and from hashmod relabelling to pod address sending every configured
target to exactly one replica, the one that polls it, for 1 to 5 replicas."""

import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helpers import relabel

from exporter.cli import build_parser, parse_shard
from exporter.config import load_config

ROOT = Path(__file__).parent.parent
K8S = ROOT / "examples" / "kubernetes"
OPERATOR_SCHEMAS = yaml.safe_load((Path(__file__).parent / "schemas" / "prometheus-operator.yaml").read_text())
# 1.28: the first release that labels StatefulSet pods with apps.kubernetes.io/pod-index.
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


def manifests() -> dict[str, dict]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            (doc,) = list(yaml.safe_load_all(path.read_text()))
            out[path.name] = doc
    return out


@pytest.mark.parametrize("name", [n for n, d in manifests().items() if "monitoring.coreos.com" not in d["apiVersion"]])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_validate(name, version):
    kubernetes_validate.validate(manifests()[name], version, strict=True)


@pytest.mark.parametrize("name", [n for n, d in manifests().items() if "monitoring.coreos.com" in d["apiVersion"]])
def test_operator_manifests_validate(name):
    doc = manifests()[name]
    jsonschema.validate(doc, OPERATOR_SCHEMAS[doc["kind"]])


def test_the_validators_refuse_mistakes():
    statefulset = manifests()["statefulset.yaml"]
    statefulset["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSIONS[-1], strict=True)
    scrape = manifests()["scrapeconfig-probe.yaml"]
    scrape["spec"]["relabelings"][2]["action"] = "hashmodulo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scrape, OPERATOR_SCHEMAS["ScrapeConfig"])
    monitor = manifests()["servicemonitor.yaml"]
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, OPERATOR_SCHEMAS["ServiceMonitor"])


def test_kustomization_names_every_manifest():
    text = (K8S / "kustomization.yaml").read_text()
    listed = yaml.safe_load(text)["resources"]
    commented = re.findall(r"^\s*#\s*-\s*(\S+\.yaml)\s*$", text, re.M)
    assert sorted(listed + commented) == sorted(manifests()), (listed, commented)
    assert all((K8S / name).exists() for name in listed)


def statefulset() -> dict:
    return manifests()["statefulset.yaml"]


def container() -> dict:
    (c,) = statefulset()["spec"]["template"]["spec"]["containers"]
    return c


def test_probes_and_hardening():
    c = container()
    assert c["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert c["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    assert statefulset()["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    service = manifests()["service.yaml"]
    assert service["spec"]["clusterIP"] == "None"  # headless: one DNS name per pod
    assert statefulset()["spec"]["serviceName"] == service["metadata"]["name"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in statefulset()["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["secret"]["secretName"] == manifests()["secret.yaml"]["metadata"]["name"]
    assert mounts["config"]["readOnly"] is True


def shard_total() -> int:
    env = {e["name"]: e for e in container()["env"]}
    total = int(env["SHARD_TOTAL"]["value"])
    assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['apps.kubernetes.io/pod-index']"
    assert statefulset()["spec"]["replicas"] == total
    hashmods = [r for r in manifests()["scrapeconfig-probe.yaml"]["spec"]["relabelings"]
                if r.get("action", "").lower() == "hashmod"]
    assert [r["modulus"] for r in hashmods] == [total]
    return total


def test_shard_total_written_consistently():
    assert shard_total() == 3


def expand_args(index: int, total: int) -> list[str]:
    """The container's args as Kubernetes expands $(VAR) from the container's environment."""
    values = {"SHARD_INDEX": str(index), "SHARD_TOTAL": str(total)}
    return [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container()["args"]]


def configured_targets(tmp_path: Path) -> list[str]:
    """The Secret's config, loaded by the exporter itself from a copy of the mounted files."""
    secret = manifests()["secret.yaml"]["stringData"]
    for name, text in secret.items():
        (tmp_path / name).write_text(text.replace("/etc/vsxi-xivo-exporter", str(tmp_path)))
    config = load_config(str(tmp_path / "config.yml"))
    return [t.name for t in config.targets]


def test_discovery_config_asks_every_replica_and_sends_each_device_to_its_lister():
    """scrapeconfig-sd.yaml: one /sd per StatefulSet pod, and the relabelling sends a discovered device to the
    replica that listed it (the exporter's /sd itself is run against a real Prometheus in test_e2e_sd.py)."""
    spec = manifests()["scrapeconfig-sd.yaml"]["spec"]
    name = statefulset()["metadata"]["name"]
    assert [c["url"] for c in spec["httpSDConfigs"]] == [
        f"http://{name}-{i}.{name}.monitoring.svc:10188/sd" for i in range(shard_total())]
    pod = f"{name}-1.{name}.monitoring.svc:10188"
    rules = [r for r in spec["relabelings"] if r.get("action", "replace").lower() == "replace"]
    labels = relabel({"__address__": "sbc-atl-2", "__meta_vsxi_xivo_exporter": pod,
                      "__meta_vsxi_xivo_family": "vsxi"}, rules, shard_total())
    assert (labels["__address__"], labels["__param_target"], labels["instance"], labels["family"]) == (
        pod, "sbc-atl-2", "sbc-atl-2", "vsxi")


def test_probe_config_lists_every_configured_target(tmp_path):
    static = manifests()["scrapeconfig-probe.yaml"]["spec"]["staticConfigs"]
    assert sorted(t for s in static for t in s["targets"]) == sorted(configured_targets(tmp_path))


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5])
def test_every_target_polled_and_probed_on_exactly_one_replica(tmp_path, total):
    shard_total()  # the manifests agree with themselves first
    base = load_config_for(tmp_path)
    names = [t.name for t in base.targets]
    assert len(names) > 200
    polled_by: dict[str, list[int]] = {n: [] for n in names}
    for index in range(total):
        args = build_parser().parse_args(expand_args(index, total)[1:] + ["--config.file", base.path])
        shard = parse_shard(args.shard)
        assert shard == (index, total)
        config = base.shard(*shard)
        for t in config.targets:
            polled_by[t.name].append(index)
    rules = manifests()["scrapeconfig-probe.yaml"]["spec"]["relabelings"]
    for name in names:
        assert len(polled_by[name]) == 1, (name, polled_by[name])
        labels = relabel({"__address__": name}, rules, total)
        assert labels["__param_target"] == name and labels["instance"] == name
        pod = re.fullmatch(r"vsxi-xivo-exporter-(\d+)\.vsxi-xivo-exporter\.monitoring\.svc:10188",
                           labels["__address__"])
        assert pod, labels["__address__"]
        assert int(pod.group(1)) == polled_by[name][0] < total


def load_config_for(tmp_path: Path):
    """The shipped Secret's targets plus 250 more, so every shard of every TOTAL gets some."""
    configured_targets(tmp_path)
    text = (tmp_path / "config.yml").read_text()
    extra = "".join(f"  - {{name: sbc-{i:03d}, url: 'https://10.1.{i // 200}.{i % 200}:8888', username: m, "
                    f"password_file: {tmp_path}/sbc-atl-1.pass}}\n" for i in range(250))
    config_path = tmp_path / "fleet.yml"
    config_path.write_text(text.replace("vsxi:\n", "vsxi:\n" + extra, 1))
    return load_config(str(config_path))


def test_prometheus_rule_carries_every_shipped_rule():
    groups = manifests()["prometheusrule.yaml"]["spec"]["groups"]
    shipped = [g for f in ("recording.yml", "alerts.yml") for g in yaml.safe_load((ROOT / "rules" / f).read_text())
               ["groups"]]
    assert groups == shipped

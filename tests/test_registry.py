"""A third device family from the test suite (tests/toyfamily.py plus the poller below), registered at run
time: the shared code (config loader, engine, parse workers, status series, /metrics, /probe, the landing
page, reload) serves it without a change. Also: which modules may name a family."""

from __future__ import annotations

import ast
import asyncio
import base64
import re
from pathlib import Path

import aiohttp
import pytest
import toyfamily
from aiohttp import web
from conftest import promtool_check
from helpers import sample

from exporter import registry
from exporter.config import load_config
from exporter.configfile import ConfigError
from exporter.devicefamily import Family
from exporter.engine import Engine
from exporter.httpclient import FetchError
from exporter.polling.poller import BasePoller
from exporter.reload import Reloader
from exporter.web.app import create_app

ROOT = Path(__file__).parent.parent


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class ToyPoller(BasePoller):
    family = "toy"
    status_specs = toyfamily.STATUS
    parse = staticmethod(toyfamily.parse_and_build)
    auth_reasons = frozenset({"http_401"})
    round_stoppers = BasePoller.round_stoppers | {"http_401"}

    def __init__(self, target, *args, **kwargs):
        super().__init__(target, *args, **kwargs)
        self.session = aiohttp.ClientSession(headers={"Authorization": basic(target.username, target.password)},
                                             timeout=aiohttp.ClientTimeout(total=target.timeout))

    async def close(self) -> None:
        await self.session.close()

    async def fetch(self, collector: str, deadline: float) -> bytes:
        async def get() -> bytes:
            try:
                async with self.session.get(f"{self.target.url}/{collector}") as resp:
                    if resp.status == 401:
                        raise FetchError("http_401", f"{collector}: HTTP 401")
                    if resp.status != 200:
                        raise FetchError("http_4xx", f"{collector}: HTTP {resp.status}")
                    return await resp.read()
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                raise FetchError("connection", f"{collector}: {type(exc).__name__}") from None
        return await self.retrying(get, deadline, collector)


TOY = Family(name="toy", title="Toy", device_noun="thermometer",
             check_target=toyfamily.check_toy, collectors=tuple(toyfamily.COLLECTORS), poller=ToyPoller,
             catalog=toyfamily.CATALOG, status=toyfamily.STATUS)


@pytest.fixture
def toy_family():
    registry.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister("toy")


async def thermometer(aiohttp_server, celsius: float) -> str:
    async def answer(request):
        if request.headers.get("Authorization") != basic("reader", "toy-pw"):
            return web.Response(status=401)
        return web.json_response({"temperature": celsius})

    app = web.Application()
    app.router.add_get("/thermometer", answer)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


def entry(name: str, url: str, extra: str = "") -> str:
    return (f"  - {{name: {name}, url: '{url}', username: reader, password: toy-pw, interval: 1s, timeout: 500ms"
            f"{extra}}}\n")


def test_the_config_loader_checks_a_registered_familys_entries(toy_family, tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("toy:\n" + entry("toy-1", "http://127.0.0.1:9") + entry("toy-2", "http://127.0.0.1:9",
                                                                             ", colour: red"))
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert err.value.problems == [
        f"{path}: toy[1].colour: unknown key (expected one of: {', '.join(toyfamily.KEYS)})"]
    path.write_text("toy:\n" + entry("toy-1", "http://127.0.0.1:9") + "vsxi:\n" + entry("toy-1", "http://h"))
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    # Families are read in the registry's order: the toy's entry comes after the VSXi's.
    assert err.value.problems == [f"{path}: toy[0].name: duplicate target name 'toy-1' (also vsxi[0])"]
    path.write_text("toy:\n" + entry("toy-1", "http://127.0.0.1:9"))
    (target,) = load_config(str(path)).targets
    assert isinstance(target, toyfamily.ToyTarget) and target.collectors == ("thermometer",)


def test_an_unregistered_family_is_an_unknown_key(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("toy:\n" + entry("toy-1", "http://127.0.0.1:9"))
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert err.value.problems == [
        f"{path}: toy: unknown key (expected one of: global, defaults, profiles, inventory, vsxi, xivo)"]


async def test_a_third_family_is_polled_served_probed_and_reloaded_by_the_shared_code(
        toy_family, aiohttp_server, aiohttp_client, tmp_path):
    first, second = await thermometer(aiohttp_server, 21.5), await thermometer(aiohttp_server, -3.25)
    path = tmp_path / "config.yml"
    path.write_text("toy:\n" + entry("toy-1", first))
    engine = Engine(load_config(str(path)))
    client = await aiohttp_client(create_app(engine, manage_engine=False,
                                             reloader=Reloader(engine, lambda: load_config(str(path)))))
    await engine.start()  # background polling, parsed in the worker processes

    async def metrics_until(check, what: str) -> str:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            text = await (await client.get("/metrics")).text()
            if check(text):
                return text
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    try:
        text = await metrics_until(lambda t: sample(t, "toy_up", target="toy-1") == 1, "toy-1 up")
        promtool_check(text.encode())
        assert sample(text, "toy_temperature_celsius", target="toy-1") == 21.5
        assert sample(text, "toy_collector_success", target="toy-1", collector="thermometer") == 1
        assert sample(text, "vsxi_xivo_exporter_targets", family="toy") == 1
        assert sample(text, "vsxi_xivo_exporter_polls_total", family="toy", target="toy-1",
                      collector="thermometer") >= 1
        assert sample(text, "vsxi_xivo_exporter_auth_failures_total", family="toy", target="toy-1",
                      reason="http_401") == 0
        pids = {w.process.pid for w in engine.workers.pool._workers}  # noqa: SLF001 - parsed out of process
        assert pids

        probe = await (await client.get("/probe?target=toy-1")).text()
        promtool_check(probe.encode())
        assert sample(probe, "toy_temperature_celsius", target="toy-1") == 21.5
        assert "vsxi_xivo_exporter_" not in probe

        landing = await (await client.get("/")).text()
        assert "/probe?target=toy-1" in landing and "<td>toy</td><td>up</td>" in landing

        path.write_text("toy:\n" + entry("toy-1", first) + entry("toy-2", second))
        resp = await client.post("/-/reload")
        assert (resp.status, await resp.text()) == (200, "removed: -\nchanged: -\nadded: toy-2\n")
        text = await metrics_until(lambda t: sample(t, "toy_up", target="toy-2") == 1, "toy-2 up")
        assert sample(text, "toy_temperature_celsius", target="toy-2") == -3.25
        assert sample(text, "vsxi_xivo_exporter_targets", family="toy") == 2

        path.write_text("toy:\n" + entry("toy-2", second, ", password: wrong"))
        with pytest.raises(ConfigError):  # a key given twice: refused, nothing changes
            load_config(str(path))
        path.write_text("toy:\n  - {name: toy-2, url: '" + second + "', username: reader, password: wrong, "
                        "interval: 1s, timeout: 500ms}\n")
        resp = await client.post("/-/reload")
        assert (resp.status, await resp.text()) == (200, "removed: toy-1\nchanged: toy-2\nadded: -\n")
        text = await metrics_until(lambda t: (sample(t, "vsxi_xivo_exporter_auth_failures_total", family="toy",
                                                     target="toy-2", reason="http_401") or 0) >= 1, "toy-2 refused")
        assert sample(text, "toy_up", target="toy-2") == 0
        assert sample(text, "toy_up", target="toy-1") is None
        # The removed target's rendered bytes are no longer counted as held: only toy-2's, as /probe serves them
        # (compared until a scrape and a probe fall between the same two polls: a round renders new durations).
        async def held_is_what_probe_serves() -> bool:
            probe = await (await client.get("/probe?target=toy-2")).text()
            served = sum(len(line) + 1 for line in probe.splitlines() if line and not line.startswith("#"))
            text = await (await client.get("/metrics")).text()
            return sample(text, "vsxi_xivo_exporter_cached_exposition_text_bytes") == served

        deadline = asyncio.get_running_loop().time() + 30
        while not await held_is_what_probe_serves():
            assert asyncio.get_running_loop().time() < deadline, "held bytes never matched what /probe serves"
    finally:
        await engine.stop()


# --- who may name a family ---------------------------------------------------------------------------------

FAMILY_PACKAGES = ("exporter.vsxi", "exporter.xivo")
MAY_NAME_FAMILIES = ("exporter/vsxi/", "exporter/xivo/", "exporter/registry.py", "exporter/simulator/")


def test_only_the_family_packages_and_the_registry_import_a_family_or_compare_a_family_name():
    """The simulators stand in for devices of both families: they are test and demo fixtures, not shared code."""
    offenders = []
    for path in sorted((ROOT / "exporter").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(MAY_NAME_FAMILIES):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(FAMILY_PACKAGES):
                offenders.append(f"{rel}:{node.lineno}: imports {node.module}")
            elif isinstance(node, ast.Import):
                offenders += [f"{rel}:{node.lineno}: imports {a.name}" for a in node.names
                              if a.name.startswith(FAMILY_PACKAGES)]
            elif isinstance(node, ast.Compare):
                for operand in (node.left, *node.comparators):
                    if isinstance(operand, ast.Constant) and operand.value in ("vsxi", "xivo"):
                        offenders.append(f"{rel}:{node.lineno}: compares with {operand.value!r}")
    assert offenders == []


def test_a_registered_family_gets_collector_and_staleness_alerts_and_health_panels(toy_family):
    """The mixin assembles its common alerts and exporter-health panels from the registry, not from a list of
    family names: registering a family is enough for its collectors to be alerted on and shown."""
    import json

    from mixin.dashboards import exporter_health
    from mixin.rules import alerts

    rules = {rule["alert"]: rule["expr"] for rule in alerts()}
    assert "toy_collector_success == 0" in rules["VsxiXivoCollectorFailing"]
    assert "time() - toy_collector_last_success_timestamp_seconds > " in rules["VsxiXivoDataStale"]
    assert "vsxi_standby" in rules["VsxiXivoCollectorFailing"]  # the families before it keep theirs
    queries = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in exporter_health()["panels"]}
    for title, series in (("Collector success", "toy_collector_success"),
                          ("Data age", "toy_collector_last_success_timestamp_seconds"),
                          ("Poll duration per target and table", "toy_collector_duration_seconds"),
                          ("Answer size per target and table", "toy_collector_response_bytes")):
        assert any(series in q for q in queries[title]), (title, queries[title])
    json.dumps(exporter_health())  # still a dashboard Grafana can load


def test_status_specs_must_start_with_the_common_four():
    """What the mixin generates from (StatusSpecs.common) is checked when a family's specs are built."""
    from exporter.polling.status import CollectorSeries, StatusSpecs

    common = toyfamily.STATUS.collector
    with pytest.raises(ValueError, match="start with the common four"):
        StatusSpecs(up=toyfamily.UP, collector=(common[1], common[0], *common[2:]))
    with pytest.raises(ValueError, match="start with the common four"):
        StatusSpecs(up=toyfamily.UP, collector=common[:3])
    assert StatusSpecs(up=toyfamily.UP, collector=(*common, CollectorSeries(common[0].spec, common[0].value)))


# --- shared code names no family -----------------------------------------------------------------------------

# The project's own name holds both first families' names: it is no family's. Nor are Prometheus job names
# (the operator's; the README's examples are `vsxi` and `vsxi-probe`), matched by mixin/config.py's selectors.
PROJECT_NAME = re.compile(r"vsxi[-_ ]?xivo|job=~\"[^\"]*\"", re.I)


def _family_package(family) -> str:
    """The package a family lives in (``exporter/<name>/``), found from its poller."""
    return family.poller.__module__.rpartition(".")[0].replace(".", "/") + "/"


def _naming_pattern() -> re.Pattern:
    """Any registered family's name or title as a word, or any of its metric names."""
    from exporter.registry import FAMILIES

    words = {w.lower() for f in FAMILIES.values() for w in (f.name, f.title)}
    metrics = set()
    for f in FAMILIES.values():
        metrics |= set(f.catalog.specs) | {f.status.up.name} | {c.spec.name for c in f.status.collector}
        metrics |= {s.name for s in (f.status.standby, f.status.info) if s is not None}
    alternatives = sorted(words | metrics, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, alternatives)) + r")\b", re.I)


def test_shared_code_and_the_mixin_name_no_family_nor_its_metrics():
    """Derived from the registry: every module outside the families' packages (and the registry, which lists
    them, and the simulators, which stand in for their devices), and every file of mixin/, comments and
    docstrings included, is free of any family's name, title and metric names; a new family's are checked by
    registering it."""
    from exporter.registry import FAMILIES

    pattern = _naming_pattern()
    exempt = (*(_family_package(f) for f in FAMILIES.values()), "exporter/registry.py", "exporter/simulator/")
    files = [*ROOT.glob("exporter/**/*.py"), *(p for p in ROOT.glob("mixin/**/*") if p.is_file())]
    offenders = []
    for path in sorted(files):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(exempt) or "__pycache__" in rel:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = pattern.findall(PROJECT_NAME.sub("", line))
            if found:
                offenders.append(f"{rel}:{number}: {', '.join(found)}")
    assert offenders == [], "\n".join(offenders)


def test_the_naming_guard_sees_a_registered_familys_names(toy_family):
    """The guard is derived from the registry: a third family's name and metrics are caught too."""
    pattern = _naming_pattern()
    assert pattern.search("a comment about the Toy family")
    assert pattern.search(f"expr: {toyfamily.UP.name} == 0")
    assert not pattern.search(PROJECT_NAME.sub("", "vsxi_xivo_exporter_polls_total VsxiXivoSiteUnreachable"))
    assert pattern.search(PROJECT_NAME.sub("", "vsxi_xivo_exporter_polls_total vsxi_up"))


def test_a_familys_own_monitoring_lands_in_the_bundle_by_registration(tmp_path):
    """A family's dashboards, rules, runbook sections and health panels come from its Monitoring alone: the
    mixin's files gain them without any edit in mixin/."""
    from dataclasses import replace

    from exporter.devicefamily import Monitoring
    from mixin.__main__ import render_runbooks
    from mixin.dashboards import dashboards, exporter_health
    from mixin.kit import Layout, alert, dashboard, query
    from mixin.rules import rule_files

    runbook = tmp_path / "runbook.md"
    runbook.write_text("## vsxixivotoooverheated\n\n**Meaning.** Hot.\n")

    def toy_dashboards():
        layout = Layout()
        layout.add("timeseries", "Temperature", [query("toy_temperature_celsius")], "celsius")
        return [dashboard("toy", "Toy", "Thermometers.", [], layout, ["toy"])]

    def health(layout: Layout) -> None:
        layout.add("timeseries", "Toy thermometer resets", [query("toy_collector_success")], "short")

    monitoring = Monitoring(
        recording_rules=lambda: [{"record": "target:toy_temperature_celsius:max",
                                  "expr": "max by (job, target) (toy_temperature_celsius)"}],
        alerts=lambda: [alert("ToyOverheated", "toy_temperature_celsius > 60", "5m", "warning", "toy", "Hot",
                              "Too hot.")],
        dashboards=toy_dashboards, runbook=runbook, health_panels=health)
    registry.register(replace(TOY, monitoring=lambda: monitoring))
    try:
        files = rule_files()
        records = [r["record"] for r in files["recording.yml"]["groups"][0]["rules"]]
        assert "target:toy_temperature_celsius:max" in records
        alerts = [r["alert"] for r in files["alerts.yml"]["groups"][0]["rules"]]
        assert alerts[-1] == "VsxiXivoToyOverheated" and "VsxiXivoSbcUnreachable" in alerts
        assert "toy" in [d["uid"] for d in dashboards()]
        assert "Toy thermometer resets" in [p["title"] for p in exporter_health()["panels"]]
        assert render_runbooks().endswith("## vsxixivotoooverheated\n\n**Meaning.** Hot.\n")
    finally:
        registry.unregister("toy")
    assert "VsxiXivoToyOverheated" not in [r["alert"] for r in rule_files()["alerts.yml"]["groups"][0]["rules"]]


def test_a_family_whose_modules_disagree_on_its_identity_is_not_built():
    """The name, status series and metric names a family's modules declare are checked against its record."""
    from dataclasses import replace

    from exporter.catalog import Catalog

    class Misnamed(ToyPoller):
        family = "thermo"

    with pytest.raises(ValueError, match="'toy': its poller says family 'thermo'"):
        replace(TOY, poller=Misnamed)
    with pytest.raises(ValueError, match="its poller's status_specs are not the family's status"):
        replace(TOY, status=replace(toyfamily.STATUS))
    other = Catalog()
    other.gauge("toy_pressure_pascals", ("target",), "Pressure.", "thermometer")
    with pytest.raises(ValueError, match="status series toy_up is not in its catalog"):
        replace(TOY, catalog=other)
    stray = Catalog()
    for spec in toyfamily.CATALOG.specs.values():
        stray.specs[spec.name] = spec
    stray.gauge("thermometer_battery_ratio", ("target",), "Battery.", "thermometer")
    with pytest.raises(ValueError, match="metric thermometer_battery_ratio does not start with toy_"):
        replace(TOY, catalog=stray)
    with pytest.raises(ValueError, match="collectors"):
        replace(TOY, collectors=("thermometer", "thermometer"))
    with pytest.raises(ValueError, match="catalog order 3 is taken"):
        Catalog(order=3)  # the toy's: its metrics would take the toy's places in the exposition

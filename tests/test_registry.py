"""A third device family from the test suite (tests/toyfamily.py plus the poller below), registered at run
time: the shared code (config loader, engine, parse workers, status series, /metrics, /probe, the landing
page, reload) serves it without a change. Also: which modules may name a family."""

from __future__ import annotations

import ast
import asyncio
import base64
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

"""Serving from cached bytes: what a poll rendered is what the next scrape sends, no more and no less.

Over real HTTP against the simulator: new values appear on the next scrape, stale tables go away without a
poll, /probe and /metrics agree, OpenMetrics and gzip are negotiated on both, max_series stops a flood.
"""

import gzip

import pytest
from conftest import promtool_check
from helpers import FakeClock, make_engine, make_target, sample

from exporter.config import parse_config
from exporter.configfile import ConfigError
from exporter.simulator.vsxi_model import VsxiModel
from exporter.web.app import create_app


@pytest.fixture
async def serve(aiohttp_client):
    engines = []

    async def start(*targets, clock=None):
        engine = make_engine(*targets, clock=clock)
        engines.append(engine)
        return engine, await aiohttp_client(create_app(engine, manage_engine=False))

    yield start
    for engine in engines:
        await engine.stop()


async def text_of(client, path: str, **headers) -> str:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200
    return await resp.text()


async def test_a_polls_new_values_appear_on_the_next_scrape(aiohttp_server, serve):
    sim, target = await make_target(aiohttp_server, collectors=["realtime"])
    engine, client = await serve(target)
    await engine.poll_once()
    before = await text_of(client, "/probe?target=sbc-1")
    assert sample(before, "vsxi_ha_state", target="sbc-1", state="active") == 1
    assert before == await text_of(client, "/probe?target=sbc-1")  # nothing polled: the same bytes

    sim.model = VsxiModel(sim.model.scale, clock=sim.model.clock, ha_state="standby")
    assert sample(await text_of(client, "/probe?target=sbc-1"), "vsxi_ha_state", target="sbc-1",
                  state="standby") == 0  # served from the last poll until the next one completes
    await engine.poll_once()
    after = await text_of(client, "/probe?target=sbc-1")
    assert sample(after, "vsxi_ha_state", target="sbc-1", state="standby") == 1
    assert sample(after, "vsxi_ha_state", target="sbc-1", state="active") == 0
    promtool_check(after.encode())


async def test_a_stale_tables_series_go_away_without_a_poll(aiohttp_server, serve):
    clock = FakeClock()
    _, target = await make_target(aiohttp_server, collectors=["realtime", "media_server"], interval=10.0)
    engine, client = await serve(target, clock=clock)
    await engine.poll_once()
    fresh = await text_of(client, "/probe?target=sbc-1")
    assert sample(fresh, "vsxi_system_session_limit", target="sbc-1") == 19750
    clock.now += 31  # older than 3 intervals, and nothing polled since
    for path in ("/probe?target=sbc-1", "/metrics"):
        stale = await text_of(client, path)
        assert sample(stale, "vsxi_system_session_limit", target="sbc-1") is None
        assert sample(stale, "vsxi_media_server_up", target="sbc-1", media_server="1", alias="MS-1") is None
        assert sample(stale, "vsxi_collector_last_success_timestamp_seconds", target="sbc-1",
                      collector="realtime") == clock.now - 31  # the status stays
        assert sample(stale, "vsxi_up", target="sbc-1") == 1
        promtool_check(stale.encode())


async def test_metrics_is_the_join_of_every_probe(aiohttp_server, serve):
    _, a = await make_target(aiohttp_server, name="sbc-a")
    _, b = await make_target(aiohttp_server, name="sbc-b", format="json", layout="new")
    engine, client = await serve(a, b)
    await engine.poll_once()

    def samples(text: str) -> set[str]:
        return {line for line in text.splitlines() if line and not line.startswith("#")}

    probes = samples(await text_of(client, "/probe?target=sbc-a")) | samples(
        await text_of(client, "/probe?target=sbc-b"))
    whole = await text_of(client, "/metrics")
    devices = {line for line in samples(whole) if line.startswith(("vsxi_", "xivo_"))
               and not line.startswith("vsxi_xivo_exporter_")}
    assert devices == probes and len(probes) > 500
    assert whole.count("# TYPE vsxi_trunk_active_sessions gauge") == 1
    promtool_check(whole.encode())


@pytest.mark.parametrize("path", ["/probe?target=sbc-1", "/metrics"])
async def test_openmetrics_and_gzip_negotiated(aiohttp_server, serve, path):
    sim, target = await make_target(aiohttp_server)
    engine, client = await serve(target)
    await engine.poll_once()
    om = {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"}
    resp = await client.get(path, headers=om, auto_decompress=False)
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    assert resp.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(await resp.read()).decode()
    assert body.endswith("# EOF\n") and body.count("# EOF") == 1
    assert "# TYPE vsxi_active_call_duration_seconds gaugehistogram" in body
    assert "# TYPE vsxi_system_session_attempts counter" in body
    assert "vsxi_system_session_attempts_total{" in body
    plain = await client.get(path, headers={"Accept": "text/plain", "Accept-Encoding": "identity"},
                             auto_decompress=False)
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in plain.headers
    text = await plain.text()
    assert "# TYPE vsxi_system_session_attempts_total counter" in text
    assert "# TYPE vsxi_active_call_duration_seconds_gcount gauge" in text
    promtool_check(text.encode())

    # The gzip kept for /probe follows the exposition: a new poll, a new body.
    sim.model = VsxiModel(sim.model.scale, clock=sim.model.clock, ha_state="standby")
    await engine.poll_once()
    again = gzip.decompress(await (await client.get(path, headers=om, auto_decompress=False)).read()).decode()
    assert 'vsxi_ha_state{state="standby",target="sbc-1"} 1.0' in again


async def test_max_series_fails_the_collector_that_would_flood(aiohttp_server, serve):
    _, target = await make_target(aiohttp_server, collectors=["media_server", "realtime"], max_series=40)
    engine, client = await serve(target)
    await engine.poll_once()
    text = await text_of(client, "/metrics")
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="media_server") == 1
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="realtime",
                  reason="series_limit") == 1
    assert sample(text, "vsxi_system_session_limit", target="sbc-1") is None  # nothing of it is served
    assert sample(text, "vsxi_media_server_up", target="sbc-1", media_server="1", alias="MS-1") == 1
    state = engine.states["sbc-1"].collectors["realtime"]
    assert state.reason == "series_limit" and "over max_series (40)" in state.error


def test_max_series_config():
    config = parse_config("defaults: {max_series: 5000}\nvsxi:\n- {name: a, url: 'http://h', username: u, "
                              "password: p}\n- {name: b, url: 'http://h', username: u, password: p, "
                              "max_series: 10}\n")
    assert [t.max_series for t in config.of_family("vsxi")] == [5000, 10]
    with pytest.raises(ConfigError) as err:
        parse_config("vsxi:\n- {name: a, url: 'http://h', username: u, password: p, max_series: 0}\n",
                         path="CFG")
    assert err.value.problems == ["CFG: vsxi[0].max_series: expected a positive integer, got 0"]

"""The HTTP server: /probe's contract, content negotiation, gzip, landing page, health and readiness."""

import gzip

import pytest
from helpers import make_engine, make_target, sample

from exporter.web.app import create_app


@pytest.fixture
async def client(aiohttp_server, aiohttp_client):
    sim, target = await make_target(aiohttp_server, faults={"tables": {"sip_stats": "html"}})
    engine = make_engine(target)
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    client.engine = engine
    yield client
    await engine.stop()


async def test_probe_rejects_missing_and_unknown_targets(client):
    resp = await client.get("/probe")
    assert (resp.status, await resp.text()) == (400, "missing parameter: target\n")
    resp = await client.get("/probe", params={"target": "https://evil.example/"})
    assert resp.status == 400
    assert await resp.text() == ("unknown target 'https://evil.example/': only configured target names are "
                                 "accepted\n")
    resp = await client.get("/probe", params={"target": "x\n" * 100})
    text = await resp.text()
    assert resp.status == 400 and text.count("\n") == 1  # one line, whatever was sent
    await client.engine.poll_once()
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "vsxi_xivo_exporter_http_requests_total", handler="probe", code="400") == 3


async def test_probe_serves_only_device_metrics(client):
    await client.engine.poll_once()
    text = await (await client.get("/probe?target=sbc-1")).text()
    assert sample(text, "vsxi_up", target="sbc-1") == 1
    assert "vsxi_xivo_exporter_" not in text and "process_" not in text


async def test_openmetrics_and_gzip(client, check_metrics):
    await client.engine.poll_once()
    resp = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0",
                                                 "Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    assert resp.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(await resp.read()).decode()
    assert body.endswith("# EOF\n")
    assert "# TYPE vsxi_active_call_duration_seconds gaugehistogram" in body
    assert "# TYPE vsxi_system_session_attempts counter" in body
    resp = await client.get("/metrics", headers={"Accept": "text/plain", "Accept-Encoding": "identity"},
                            auto_decompress=False)
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in resp.headers
    check_metrics(await resp.read())


async def test_landing_page_lists_targets_collectors_and_errors(client):
    await client.engine.poll_once()
    resp = await client.get("/")
    page = await resp.text()
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert "/probe?target=sbc-1" in page
    failing = page[page.index('id="failing"'):page.index('id="healthy"')]
    assert "<td>sip_stats</td><td>degenerate_payload</td>" in failing
    assert "HTML page instead of stats" in failing


def _landing_fleet(n: int):
    """States of ``n`` SBCs as pollers leave them: most up, every 50th down (a failing collector), a few
    standby."""
    from dataclasses import replace

    from exporter.polling.state import CollectorState, TargetState

    states = {}
    for i in range(n):
        ok = {c: CollectorState(c, True, last_success=1000.0 - i % 7) for c in ("realtime", "resource")}
        state = TargetState(f"sbc-{i:04d}", 30.0, ok, rounds=3, up=True, family="vsxi")
        if i % 50 == 7:
            failed = CollectorState("realtime", False, last_success=400.0, reason="timeout",
                                    error="realtime: no answer within 10s")
            state = replace(state, up=False, collectors={**ok, "realtime": failed})
        elif i % 100 == 3:
            state = replace(state, up=False, standby=True)
        states[state.name] = state
    return states


def test_landing_page_for_a_fleet_puts_failures_first_and_stays_small():
    """1,000 SBCs: counts first, then the 20 failing ones with their error, then healthy ones (capped); a
    filter narrows both; the page stays under 64 kB."""
    from html.parser import HTMLParser

    from exporter.web.landing import MAX_HEALTHY_ROWS, render

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.sections, self.rows = [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "h2":
                self.sections.append(attrs.get("id"))
            elif tag == "tr" and attrs.get("class"):
                self.rows.append((self.sections[-1], attrs["class"]))

    states = _landing_fleet(1000)
    page = render(states, 1000.0, "", "/metrics")
    parsed = Rows()
    parsed.feed(page)
    assert parsed.sections == ["summary", "failing", "healthy"]
    assert [r for r in parsed.rows if r[0] == "failing"] == [("failing", "bad")] * 20
    assert [r for r in parsed.rows if r[0] == "healthy"] == [("healthy", "ok")] * MAX_HEALTHY_ROWS
    assert '<td class="ok">970</td><td class="bad">20</td>' in page and "<td>10</td>" in page  # up, down, standby
    assert "no answer within 10s" in page and "880 more healthy targets not shown" in page  # standby nodes are healthy
    assert len(page.encode()) < 64_000, len(page.encode())
    narrowed = render(states, 1000.0, "sbc-005", "/metrics")
    assert "Targets matching <b>sbc-005</b>: 10" in narrowed and "sbc-0057" in narrowed and "sbc-0107" not in narrowed
    assert "&lt;script&gt;" in render(states, 1000.0, "<script>", "/metrics")  # the query is escaped


def test_landing_page_in_an_outage_shows_the_dead_targets_first_one_row_each_with_their_reason():
    """200 of 1,000 SBCs lost at once (their rounds stopped at the first table: every collector failed with its
    reason) beside 20 down with one table timing out and 5 up with one failing table: every target down comes
    first, the lost ones in one row each with the error of the table asked; they are counted by reason."""
    from dataclasses import replace

    from exporter.polling.state import CollectorState
    from exporter.web.landing import render

    tables = ("realtime", "resource", "sub_stats", "media_server")
    states = _landing_fleet(1000)
    for i in range(0, 1000, 10):
        for j in (i, i + 1):
            dead = {c: CollectorState(c, False, last_success=300.0, reason="connect_timeout",
                                      error=f"{c}: no connection within 3s" if c == "realtime" else
                                      f"{c}: not polled: realtime: no connection within 3s") for c in tables}
            states[f"sbc-{j:04d}"] = replace(states[f"sbc-{j:04d}"], up=False, standby=False, collectors=dead)
    for j in (5, 15, 25, 35, 45):  # up, one table failing: after every target down although named first
        state = states[f"sbc-{j:04d}"]
        failed = CollectorState("resource", False, last_success=990.0, reason="http_5xx", error="resource: HTTP 500")
        states[state.name] = replace(state, collectors={**state.collectors, "resource": failed})
    page = render(states, 1000.0, "", "/metrics")
    failing = page[page.index('id="failing"'):page.index('id="healthy"')]
    assert "Down by reason: connect_timeout: 200, timeout: 20" in failing
    rows = failing.split("<tr")[2:]
    assert [">down<" in r for r in rows] == [True] * 220 + [False] * 5, "the targets down first"
    assert failing.count("<td>all 4</td><td>connect_timeout</td><td>700s ago</td>"
                         "<td>realtime: no connection within 3s</td>") == 200
    assert all("<td>resource</td><td>http_5xx</td>" in r for r in rows[220:])
    assert len(page.encode()) < 80_000, len(page.encode())


async def test_health_and_readiness(client):
    assert (await client.get("/-/healthy")).status == 200
    resp = await client.get("/-/ready")
    assert resp.status == 503  # no poll round finished yet
    await client.engine.poll_once()
    assert (await client.get("/-/ready")).status == 200


async def test_before_the_first_poll_targets_are_down_not_missing(client, check_metrics):
    client.engine._build_pollers()
    text = await (await client.get("/metrics")).text()
    assert sample(text, "vsxi_up", target="sbc-1") == 0
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    check_metrics(text.encode())


async def test_metrics_without_devices(client):
    await client.engine.poll_once()
    text = await (await client.get("/metrics?devices=false")).text()
    assert "vsxi_xivo_exporter_polls_total" in text
    assert "vsxi_up" not in text and "vsxi_system_" not in text


async def test_simulator_fault_control(aiohttp_client):
    """The fault endpoint merges, replaces, and refuses an unknown fault without changing anything."""
    from exporter.simulator.vsxi_app import VsxiSimulator

    client = await aiohttp_client(VsxiSimulator().app())
    assert (await (await client.patch("/_sim/faults", json={"latency": 0.5})).json())["latency"] == 0.5
    resp = await client.patch("/_sim/faults", json={"latencyy": 1})
    assert (resp.status, await resp.text()) == (400, "unknown fault(s): latencyy")
    resp = await client.put("/_sim/faults", json={"body": "nonsense"})
    assert resp.status == 400 and "unknown body fault 'nonsense'" in await resp.text()
    assert (await (await client.get("/_sim/faults")).json())["latency"] == 0.5  # unchanged by the refusals
    assert (await (await client.put("/_sim/faults", json={"status": 402})).json())["latency"] == 0.0


async def test_refused_probe_names_are_exported_bounded(client):
    """A probed name the exporter does not poll is exported (VsxiXivoProbeTargetUnknown reads it), newest 20
    only, with unprintable or long names folded: a scanner cannot grow the label set."""
    name = "vsxi_xivo_exporter_probe_unknown_target_last_timestamp_seconds"
    assert (await client.get("/probe", params={"target": "sbc-atl-3"})).status == 400
    text = await (await client.get("/metrics", params={"devices": "false"})).text()
    assert sample(text, name, target="sbc-atl-3") > 1.7e9
    for i in range(100):
        await client.get("/probe", params={"target": f"scan-{i}"})
    await client.get("/probe", params={"target": "x" * 500})
    await client.get("/probe", params={"target": "bad\x00name"})
    text = await (await client.get("/metrics", params={"devices": "false"})).text()
    refused = [line for line in text.splitlines() if line.startswith(name + "{")]
    assert len(refused) == 20
    assert sample(text, name, target="sbc-atl-3") is None  # pushed out by newer names
    assert sample(text, name, target="scan-99") is not None
    assert sample(text, name, target="(unprintable or longer than 64 characters)") is not None
    assert "x" * 65 not in text and "bad\\x00" not in text


async def test_service_discovery_lists_the_targets_polled_here(aiohttp_server, aiohttp_client):
    from dataclasses import replace

    from helpers import make_engine, make_target, make_xivo

    _, sbc = await make_target(aiohttp_server, name="sbc-a", ha_group="atl-pair")
    sbc = replace(sbc, profile="sbc-standard", labels=(("region", "emea"), ("site", "atl")))
    _, pbx, runners = await make_xivo("wazo")
    try:
        engine = make_engine(sbc, pbx)
        client = await aiohttp_client(create_app(engine, manage_engine=False))
        resp = await client.get("/sd")
        assert resp.status == 200 and resp.content_type == "application/json"
        host = f"{client.server.host}:{client.server.port}"
        assert await resp.json() == [
            {"targets": ["sbc-a"], "labels": {"__meta_vsxi_xivo_family": "vsxi", "__meta_vsxi_xivo_exporter": host,
                                              "__meta_vsxi_xivo_profile": "sbc-standard",
                                              "__meta_vsxi_xivo_ha_group": "atl-pair",
                                              "__meta_vsxi_xivo_label_region": "emea",
                                              "__meta_vsxi_xivo_label_site": "atl"}},
            {"targets": ["pbx-wazo"], "labels": {"__meta_vsxi_xivo_family": "xivo", "__meta_vsxi_xivo_profile": "",
                                                 "__meta_vsxi_xivo_exporter": host}}]
        # The operator's labels are on one info series per target, never on the device series.
        await engine.poll_once()
        text = await (await client.get("/metrics")).text()
        assert 'vsxi_xivo_target_info{family="vsxi",profile="sbc-standard",region="emea",site="atl",' \
               'target="sbc-a"} 1.0' in text
        assert 'vsxi_xivo_target_info{family="xivo",profile="",target="pbx-wazo"} 1.0' in text
        assert not [line for line in text.splitlines() if 'site="atl"' in line and "target_info" not in line]
        await engine.stop()
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.mark.parametrize("path", ["/", "/metrics", "/probe?target=sbc-1", "/probe", "/-/healthy", "/-/ready",
                                  "/sd", "/no-such-page"])
async def test_no_version_in_the_server_header(client, path):
    """aiohttp's default Server header names Python's version and its own; every answer names the exporter only
    (an answer of each kind: a page, an exposition, an error, a 404)."""
    response = await client.get(path)
    assert response.headers["Server"] == "vsxi-xivo-exporter", (path, response.headers["Server"])


# The Accept headers Prometheus sends: 2.42 (Debian bookworm), 3.x by default, 3.x with the protobuf format
# first, and 3.14+ with its OpenMetrics 2.0 parser enabled.
PROMETHEUS_ACCEPT = {
    "2.42": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "3.x": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
           "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
           "text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "3.x protobuf first": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                          "encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,"
                          "text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "3.14 OpenMetrics 2.0": "application/openmetrics-text;version=2.0.0;q=0.6,"
                            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "3.14 OpenMetrics 2.0 only": "application/openmetrics-text;version=2.0.0",
    "none": "",
}


@pytest.mark.parametrize("prometheus", sorted(PROMETHEUS_ACCEPT))
async def test_the_content_type_names_the_version_the_body_is_written_in(client, check_metrics, prometheus):
    await client.engine.poll_once()
    response = await client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT[prometheus]})
    content_type = response.headers["Content-Type"]
    body = await response.text()
    if content_type.startswith("application/openmetrics-text"):
        assert "version=1.0.0" in content_type, content_type  # never 2.0.0: the body is OpenMetrics 1.0
        assert body.endswith("# EOF\n")
    else:
        # text 1.0.0 is 0.0.4 with quoted UTF-8 names allowed: the exporter's names need none.
        assert content_type.startswith("text/plain"), content_type
        assert "version=0.0.4" in content_type or "version=1.0.0" in content_type, content_type
        assert "# EOF" not in body
        check_metrics(body.encode())  # promtool reads the text format

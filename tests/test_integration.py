"""The exporter against the VSXi simulator over real HTTP: the happy path and one test per fault.

Each fault test asserts the metric an operator sees and the log line they read.
"""

import asyncio
import json
import logging
import re

import aiohttp
import pytest
from conftest import promtool_check
from helpers import PASSWORD, FakeClock, hold_table, make_engine, make_target, refused_port, sample

from exporter.vsxi.config import COLLECTORS as VSXI_COLLECTORS
from exporter.vsxi.config import VsxiTarget
from exporter.web.app import create_app


@pytest.fixture
async def run(aiohttp_client):
    """run(*targets, clock=None) -> (engine, client); the engine is stopped after the test."""
    engines = []

    async def start(*targets, clock=None, max_concurrent=16):
        engine = make_engine(*targets, clock=clock, max_concurrent=max_concurrent)
        engines.append(engine)
        client = await aiohttp_client(create_app(engine, manage_engine=False))
        return engine, client

    yield start
    for engine in engines:
        await engine.stop()


async def scrape(client, path="/metrics") -> str:
    """The exposition, after promtool accepted it (every exposition the tests produce is checked)."""
    resp = await client.get(path)
    assert resp.status == 200
    text = await resp.text()
    promtool_check(text.encode())
    return text


def poll_log(caplog, **fields):
    """The 'poll failed' records whose structured fields include ``fields``."""
    return [r for r in caplog.records if r.getMessage() == "poll failed"
            and all(r.fields.get(k) == v for k, v in fields.items())]


@pytest.mark.parametrize("variants", [False, True])
@pytest.mark.parametrize("fmt,layout", [("xml", "old"), ("xml", "new"), ("json", "old"), ("json", "new")])
async def test_every_collector_succeeds(aiohttp_server, run, check_metrics, fmt, layout, variants):
    """``variants``: the simulator answers as other firmware may (a BOM, 19,750, TrunkId, HH:MM:SS, ...)."""
    faults = {"field_variants": True, "bom": True} if variants else None
    sim, target = await make_target(aiohttp_server, layout=layout, format=fmt, faults=faults)
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 1
    for c in VSXI_COLLECTORS:
        assert sample(text, "vsxi_collector_success", target="sbc-1", collector=c) == 1, c
    assert sample(text, "vsxi_system_session_limit", target="sbc-1") == 19750
    assert sample(text, "vsxi_trunk_active_sessions", target="sbc-1", trunk_id="1001", fqdn="Group",
                  direction="ingress") is not None
    assert sample(text, "vsxi_xivo_exporter_polls_total", target="sbc-1", collector="realtime") == 1
    # One request per table, one at a time, never concurrent.
    assert [r["table"] for r in sim.requests] == list(VSXI_COLLECTORS)
    assert not any(r["concurrent"] for r in sim.requests)
    assert {r["format"] for r in sim.requests} == {fmt}
    check_metrics(text.encode())
    check_metrics((await scrape(client, "/probe?target=sbc-1")).encode())
    assert PASSWORD not in text
    # The one value no firmware should send (demo_lic "true") is counted, not lost silently.
    assert sample(text, "vsxi_collector_unreadable_values", target="sbc-1", collector="realtime",
                  field="demo_lic") == (1 if variants else None)


async def test_a_standby_answering_empty_tables_succeeds_and_says_it_is_standby(aiohttp_server, run):
    sim, target = await make_target(aiohttp_server, faults={"tables": {"resource_detail": "empty",
                                                                      "sip_stats": "empty_object"}})
    sim.model.ha_state = "standby"
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    for c in VSXI_COLLECTORS:
        assert sample(text, "vsxi_collector_success", target="sbc-1", collector=c) == 1, c
    assert sample(text, "vsxi_ha_state", target="sbc-1", state="standby") == 1
    assert sample(text, "vsxi_up", target="sbc-1") == 1


async def test_a_timeout_on_a_device_that_answered_nothing_is_not_retried_and_stops_the_round(aiohttp_server, run,
                                                                                              caplog):
    # A retry would fit in the round (0.3 + 0.5 + 0.3 s of 2.35 s): a device that has answered nothing this round
    # is asked once, not again and again while the interval allows (issue: no retry storms on a dead device).
    sim, target = await make_target(aiohttp_server, faults={"latency": 1.0}, timeout=0.3, interval=2.35)
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 0
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    assert sample(text, "vsxi_xivo_exporter_device_requests_total", target="sbc-1", outcome="timeout") == 1
    assert len(sim.requests) == 1
    # Nothing answered: the other tables are not tried against a dead device.
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="media_server",
                  reason="timeout") == 1
    # (the ok series exists from the start, at 0, so that increase() sees the first answer)
    assert sample(text, "vsxi_xivo_exporter_device_requests_total", target="sbc-1", outcome="ok") == 0
    (rec,) = poll_log(caplog, collector="realtime", reason="timeout")
    assert rec.levelno == logging.WARNING and rec.fields["error"] == "realtime: no complete answer within 0.3s"


async def test_a_timeout_on_a_device_that_answered_this_round_is_retried_within_the_interval(aiohttp_server, run):
    # Tries of sub_stats at ~0.05 and after 0.3 + 0.5 s; a third would end past the round's 2.35 s.
    sim, target = await make_target(aiohttp_server, faults={"tables": {"sub_stats": "hang"}}, timeout=0.3,
                                    interval=2.35, collectors=["realtime", "sub_stats", "resource"])
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 1
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="sub_stats") == 0
    assert sample(text, "vsxi_xivo_exporter_device_requests_total", target="sbc-1", outcome="timeout") == 2
    # A timeout after an answer is one slow table, not a dead device: the round goes on.
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="resource") == 1


async def test_400_on_a_concurrent_request_is_retried(aiohttp_server, run, caplog):
    caplog.set_level(logging.DEBUG)
    sim, target = await make_target(aiohttp_server, faults={"latency": 1.0}, collectors=["realtime"])
    engine, client = await run(target)
    # Another tool polls the SBC at the same moment: the device answers 400 to whichever request is second.
    # The exporter's poll starts once the other request is inside the device (it stays 1 s); its retry comes
    # 1 s + 0.5 s after its own request, when the other one is done.
    async with aiohttp.ClientSession() as session:
        outsider = asyncio.create_task(session.get(target.url + "/SSConfig/webresources/stats/realtime"))
        deadline = asyncio.get_running_loop().time() + 30
        while sim.in_flight == 0:
            assert asyncio.get_running_loop().time() < deadline, "the other request never reached the device"
            await asyncio.sleep(0.005)
        await engine.poll_once()
        (await outsider).close()
    text = await scrape(client)
    assert sample(text, "vsxi_xivo_exporter_device_requests_total", target="sbc-1", outcome="http_400") == 1
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 1
    assert sample(text, "vsxi_up", target="sbc-1") == 1
    (retry,) = [r for r in caplog.records if r.getMessage() == "retrying"]
    assert (retry.levelno, retry.fields["reason"], retry.fields["retry"]) == (logging.DEBUG, "http_400", 1)
    assert not poll_log(caplog)  # a retried success is not a failure


async def test_401_is_never_retried_and_logged_once(aiohttp_server, run, caplog):
    sim, target = await make_target(aiohttp_server, password="wrong-password")
    engine, client = await run(target)
    await engine.poll_once()
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 0
    assert len(sim.requests) == 2  # one request per round: no retry, the round stops
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="realtime",
                  reason="http_401") == 2
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="sub_stats",
                  reason="http_401") == 2
    warnings = [r for r in poll_log(caplog, collector="realtime") if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].fields["error"] == ("realtime: HTTP 401: Fail - User Not Authorized: invalid username or "
                                           "password (check username and password; not retried)")
    assert "wrong-password" not in caplog.text and "wrong-password" not in text


async def test_a_hostile_device_text_cannot_forge_log_lines(aiohttp_server, run, caplog):
    """A device's error text is logged: a carriage return, a newline, an ESC sequence or a line separator in it
    stays inside its one quoted value, in logfmt and in JSON (a real socket, the device's own 401 body)."""
    from aiohttp import web

    from exporter.logs import JsonFormatter, LogfmtFormatter

    # The exporter keeps a body's first line (a carriage return, NEL or line separator ends it too); an ESC
    # sequence within it moves the terminal's cursor up and erases the line the exporter wrote before.
    forged = 'Fail \x1b[1A\x1b[2Kts=2026-01-01T00:00:00Z level=error msg="exporter compromised"\x07\x7f\x9b'

    async def refuse(request):
        return web.Response(status=401, text=forged)

    app = web.Application()
    app.router.add_get("/SSConfig/webresources/stats/{table}", refuse)
    server = await aiohttp_server(app)
    target = VsxiTarget(name="sbc-1", url=str(server.make_url("")).rstrip("/"), username="monitor",
                        password=PASSWORD, interval=5.0, timeout=2.0)
    engine, client = await run(target)
    await engine.poll_once()
    (record,) = [r for r in poll_log(caplog, collector="realtime") if r.levelno == logging.WARNING]
    assert "exporter compromised" in record.fields["error"]  # the text is kept, only made harmless
    line = LogfmtFormatter().format(record)
    controls = [c for c in line if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"]
    assert controls == [], controls
    # One logfmt line whose keys are the exporter's own: the forged "level=error" stays inside the quoted error.
    tokens = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)', line)
    assert " ".join(f"{k}={v}" for k, v in tokens) == line
    assert [k for k, _ in tokens] == ["ts", "level", "logger", "msg", "target", "collector", "reason", "error"]
    assert "\\x1b[1A\\x1b[2Kts=" in line and "\\x07\\x7f\\x9b" in line
    json_line = JsonFormatter().format(record)
    assert "\n" not in json_line and "\r" not in json_line and "\x1b" not in json_line and "\x7f" not in json_line
    assert json.loads(json_line)["error"] == record.fields["error"]  # escaped, not altered


async def test_402_standby_node(aiohttp_server, run, caplog):
    sim, target = await make_target(aiohttp_server, faults={"status": 402})
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 0
    assert sample(text, "vsxi_standby", target="sbc-1") == 1
    assert len(sim.requests) == 1
    (rec,) = poll_log(caplog, collector="realtime", reason="http_402")
    assert "Load-Balance Slave mode" in rec.fields["error"]


async def test_json_jaxb_500_falls_back_to_xml_for_that_table(aiohttp_server, run, caplog):
    sim, target = await make_target(aiohttp_server, format="json", faults={"jaxb_above": 3000},
                                    collectors=["media_server", "sub_stats"])
    engine, client = await run(target)
    await engine.poll_once()
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="sub_stats") == 1
    assert sample(text, "vsxi_collector_json_fallback", target="sbc-1", collector="sub_stats") == 1
    assert sample(text, "vsxi_collector_json_fallback", target="sbc-1", collector="media_server") == 0
    assert [(r["table"], r["format"]) for r in sim.requests] == [
        ("media_server", "json"), ("sub_stats", "json"), ("sub_stats", "xml"),
        ("media_server", "json"), ("sub_stats", "xml")]  # the fallback sticks
    assert sum("polling this table as XML" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("fault,reason,message", [
    ("empty_object", "degenerate_payload", "realtime: empty JSON object {} (the device sends it during HA failover)"),
    ("empty_database", "degenerate_payload", "realtime: empty database: the response holds no table"),
    ("html", "degenerate_payload", "realtime: HTML page instead of stats (proxy or login page?)"),
    ("truncated", "invalid_payload", "realtime: malformed XML: "),
    ("reset", "connection", "realtime: connection lost: "),
    ("status:500", "http_5xx", "realtime: HTTP 500: fail - internal error"),
    ("status:404", "http_4xx", "realtime: HTTP 404: fail"),
])
async def test_bad_answers_fail_the_table_not_the_target(aiohttp_server, run, caplog, check_metrics,
                                                         fault, reason, message):
    # realtime (first) gets the fault; media_server (second) answers normally unless the round stops.
    sim, target = await make_target(aiohttp_server, faults={"tables": {"realtime": fault}},
                                    collectors=["realtime", "media_server"])
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="realtime",
                  reason=reason) == 1
    assert sample(text, "vsxi_system_active_sessions", target="sbc-1") is None  # never a zero
    if reason == "connection":  # a lost connection stops the round: the device may be going down
        assert sample(text, "vsxi_up", target="sbc-1") == 0
    else:
        assert sample(text, "vsxi_collector_success", target="sbc-1", collector="media_server") == 1
        assert sample(text, "vsxi_up", target="sbc-1") == 1
    (rec,) = poll_log(caplog, collector="realtime", reason=reason)
    assert rec.fields["error"].startswith(message)
    check_metrics(text.encode())


async def test_hanging_device_times_out(aiohttp_server, run, caplog):
    sim, target = await make_target(aiohttp_server, faults={"body": "hang"}, timeout=0.2, interval=0.5)
    engine, client = await run(target)
    await asyncio.wait_for(engine.poll_once(), timeout=5)
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-1") == 0
    assert poll_log(caplog, collector="realtime", reason="timeout")


async def test_dead_device(run, caplog):
    from exporter.vsxi.config import VsxiTarget

    caplog.set_level(logging.DEBUG)
    with refused_port() as port:
        target = VsxiTarget(name="sbc-dead", url=f"http://127.0.0.1:{port}", username="u", password="p",
                            interval=1.0, timeout=0.2)
        engine, client = await run(target)
        await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-dead") == 0
    for c in VSXI_COLLECTORS:
        assert sample(text, "vsxi_collector_success", target="sbc-dead", collector=c) == 0
    (rec,) = poll_log(caplog, collector="realtime", reason="connection")
    assert rec.fields["error"].startswith("realtime: cannot connect: ")
    (rec,) = poll_log(caplog, collector="sub_stats", reason="connection")
    assert rec.fields["error"].startswith("sub_stats: not polled: realtime: cannot connect")
    # One warning for a dead device, not one per table.
    assert [r.fields["collector"] for r in poll_log(caplog) if r.levelno == logging.WARNING] == ["realtime"]


async def test_response_over_the_size_limit(aiohttp_server, run, caplog):
    sim, target = await make_target(aiohttp_server, collectors=["sub_stats", "realtime"], max_response_bytes=4000)
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="sub_stats") == 0
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", target="sbc-1", collector="sub_stats",
                  reason="too_large") == 1
    (rec,) = poll_log(caplog, collector="sub_stats", reason="too_large")
    assert "exceeds max_response_bytes (4000)" in rec.fields["error"]


async def test_last_data_kept_for_three_intervals_then_dropped(aiohttp_server, run, caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    sim, target = await make_target(aiohttp_server, collectors=["realtime", "media_server"], interval=10.0)
    engine, client = await run(target, clock=clock)
    await engine.poll_once()
    first_success = clock.now
    sim.faults.update({"tables": {"realtime": "html"}})
    clock.now += 10
    await engine.poll_once()
    text = await scrape(client)
    # A failed poll keeps the last values (a blip is not a gap) but says so.
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    assert sample(text, "vsxi_system_session_limit", target="sbc-1") == 19750
    clock.now = first_success + 31
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_system_session_limit", target="sbc-1") is None  # older than 3 intervals
    assert sample(text, "vsxi_collector_last_success_timestamp_seconds", target="sbc-1",
                  collector="realtime") == first_success
    assert sample(text, "vsxi_media_server_up", target="sbc-1", media_server="1", alias="MS-1") == 1
    assert sample(text, "vsxi_up", target="sbc-1") == 1
    warnings = [r for r in poll_log(caplog, collector="realtime") if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the repeat is logged at debug
    sim.faults.update({"tables": {}})
    await engine.poll_once()
    assert any(r.getMessage() == "poll recovered" for r in caplog.records)
    assert sample(await scrape(client), "vsxi_system_session_limit", target="sbc-1") == 19750


async def test_unmapped_fields_are_counted_and_exposed(aiohttp_server, run, check_metrics):
    sim, target = await make_target(aiohttp_server, faults={"extra_fields": True})
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_collector_unmapped_fields", target="sbc-1", collector="realtime") == 2
    assert sample(text, "vsxi_collector_unmapped_fields", target="sbc-1", collector="sub_stats") == 2
    assert sample(text, "vsxi_unmapped_field_value", target="sbc-1", collector="sip_stats", section="sip_stat",
                  field="fw_new_counter", row="1") == 42
    check_metrics(text.encode())


async def test_one_failing_target_never_blanks_the_others(aiohttp_server, run):
    _, good = await make_target(aiohttp_server, name="sbc-good")
    _, bad = await make_target(aiohttp_server, name="sbc-bad", faults={"status": 503})
    engine, client = await run(good, bad)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-good") == 1
    assert sample(text, "vsxi_up", target="sbc-bad") == 0
    probe = await scrape(client, "/probe?target=sbc-good")
    assert sample(probe, "vsxi_up", target="sbc-good") == 1 and "sbc-bad" not in probe


async def test_a_redirect_says_where_it_points_without_secrets(aiohttp_server, run):
    from aiohttp import web

    from exporter.vsxi.config import VsxiTarget

    async def moved(request):
        raise web.HTTPFound("https://admin:hunter2@sbc-new.example:8888/SSConfig/webresources/stats/x?token=abc")

    app = web.Application()
    app.router.add_get("/{tail:.*}", moved)
    server = await aiohttp_server(app)
    target = VsxiTarget(name="sbc-moved", url=str(server.make_url("")).rstrip("/"), username="u", password="p",
                        collectors=("realtime",), interval=5.0, timeout=2.0)
    engine, client = await run(target)
    await engine.poll_once()
    state = engine.states["sbc-moved"].collectors["realtime"]
    assert state.reason == "http_other"
    assert state.error == ("realtime: HTTP 302 redirect to https://sbc-new.example:8888/SSConfig/webresources/stats/x;"
                           " redirects are not followed (set url to where the device answers)")
    assert "hunter2" not in state.error and "token" not in state.error


@pytest.mark.parametrize("retry_after,pause", [("3", 3.0), ("3600", 600.0), (None, None)])
async def test_retry_after_is_honoured_bounded_and_shown(aiohttp_server, run, retry_after, pause):
    from aiohttp import web

    from exporter.vsxi.config import VsxiTarget

    requests = []

    async def busy(request):
        requests.append(request.path)
        headers = {"Retry-After": retry_after} if retry_after else {}
        return web.Response(status=429, text="slow down", headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", busy)
    server = await aiohttp_server(app)
    clock = FakeClock()
    target = VsxiTarget(name="sbc-busy", url=str(server.make_url("")).rstrip("/"), username="u", password="p",
                        collectors=("realtime", "resource"), interval=5.0, timeout=2.0)
    engine, client = await run(target, clock=clock)
    await engine.poll_once()
    state = engine.states["sbc-busy"]
    assert [c.reason for c in state.collectors.values()] == ["http_429", "http_429"]
    assert "HTTP 429: slow down (too many requests)" in state.collectors["realtime"].error
    text = await scrape(client)
    if pause is None:  # no Retry-After: an ordinary failure, polled again next round
        assert len(requests) == 2  # resource was still asked
        await engine.poll_once()
        assert len(requests) == 4
        return
    assert len(requests) == 1  # the rest of the round was not sent
    assert sample(text, "vsxi_xivo_exporter_backoff_until_timestamp_seconds", family="vsxi",
                  target="sbc-busy") == clock.now + pause
    clock.now += pause - 1
    await engine.poll_once()
    assert len(requests) == 1  # still paused
    clock.now += 1
    await engine.poll_once()
    assert len(requests) == 2  # polled again once the pause is over
    text = await scrape(client)
    assert sample(text, "vsxi_xivo_exporter_backoff_until_timestamp_seconds", family="vsxi",
                  target="sbc-busy") == clock.now + pause  # asked again


def test_retry_after_parsing():
    from email.utils import formatdate

    from exporter.httpclient import parse_retry_after

    assert parse_retry_after("120", 1_800_000_000.0) == 120.0
    assert parse_retry_after(formatdate(1_800_000_090.0, usegmt=True), 1_800_000_000.0) == 90.0
    assert parse_retry_after(formatdate(1_700_000_000.0, usegmt=True), 1_800_000_000.0) == 0.0
    assert parse_retry_after("soon", 1_800_000_000.0) is None
    assert parse_retry_after(None, 1_800_000_000.0) is None


async def test_auth_failure_counters_exist_at_zero_before_the_first_failure(aiohttp_server, run):
    """increase() on a counter created by its first failure sees nothing until the second: the auth alerts
    would need two failed rounds. The exporter creates them at 0 for every target."""
    from helpers import make_xivo

    _, target = await make_target(aiohttp_server)
    _, pbx, runners = await make_xivo("xivo16")
    try:
        engine, client = await run(target, pbx)
        await engine.poll_once()  # healthy: no authentication failure yet
        text = await scrape(client)
        assert sample(text, "vsxi_xivo_exporter_auth_failures_total", family="vsxi", target="sbc-1",
                      reason="http_401") == 0
        for reason in ("auth_failed", "auth_unavailable"):
            assert sample(text, "vsxi_xivo_exporter_auth_failures_total", family="xivo", target="pbx-xivo16",
                          reason=reason) == 0
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_402_standby_exports_what_the_standby_alert_case_feeds_promtool(aiohttp_server, run):
    """rules/tests/alerts_test.yml's healthy-standby case uses these series: up 0, standby 1, every collector
    failing (and no device series). The alerts must then stay silent, which promtool checks."""
    _, target = await make_target(aiohttp_server, name="sbc-b", faults={"status": 402})
    engine, client = await run(target)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "vsxi_up", target="sbc-b") == 0
    assert sample(text, "vsxi_standby", target="sbc-b") == 1
    for collector in VSXI_COLLECTORS:
        assert sample(text, "vsxi_collector_success", target="sbc-b", collector=collector) == 0
    assert sample(text, "vsxi_system_active_sessions", target="sbc-b") is None


async def test_cached_exposition_bytes_are_what_the_probes_serve(aiohttp_server, run):
    """vsxi_xivo_exporter_cached_exposition_bytes (the memory model's per-target term) counts exactly the
    bytes the targets hold, compressed, and _text_bytes the text they stand for: the sample lines of their
    /probe answers, status series included."""
    from helpers import held_by_probe, make_xivo

    _, sbc = await make_target(aiohttp_server)
    _, pbx, runners = await make_xivo("wazo")
    try:
        engine, client = await run(sbc, pbx)
        await engine.poll_once()
        held = held_text = 0
        for name in ("sbc-1", "pbx-wazo"):
            resp = await client.get(f"/probe?target={name}", headers={"Accept-Encoding": "gzip"},
                                    auto_decompress=False)
            assert resp.headers["Content-Encoding"] == "gzip"
            target_held, target_text = held_by_probe(await resp.read())
            held, held_text = held + target_held, held_text + target_text
        text = await scrape(client)
        # Compressed about 2:1 here (small tables; status lines are held uncompressed), 9:1 at 20 trunks.
        assert held_text > 10_000 and held < held_text / 2
        assert sample(text, "vsxi_xivo_exporter_cached_exposition_text_bytes") == held_text
        assert sample(text, "vsxi_xivo_exporter_cached_exposition_bytes") == held
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_a_round_is_published_whole_when_it_ends(aiohttp_server, run):
    """A scrape during a round shows the previous round for every table, never half of the current one: the
    first table, already read, shows nothing until the second is done, then both, with one round counted and
    the status series of both."""
    _, target = await make_target(aiohttp_server, collectors=("realtime", "resource"))
    engine, client = await run(target)
    engine._build_pollers()  # noqa: SLF001 - the pollers without their schedule: the test drives one round
    poller = engine.pollers["sbc-1"]
    entered, release = hold_table(poller, "resource")
    round_task = asyncio.create_task(poller.poll_round())
    await asyncio.wait_for(entered.wait(), 10)
    assert [f.collector for f in poller.held.pending] == ["realtime"]  # read (parsed at the round's end) ...
    text = await scrape(client)  # ... but not shown: the round is not over
    assert sample(text, "vsxi_collector_success", target="sbc-1", collector="realtime") == 0
    assert sample(text, "vsxi_system_active_sessions", target="sbc-1") is None
    assert engine.states["sbc-1"].rounds == 0
    release.set()
    await asyncio.wait_for(round_task, 10)
    text = await scrape(client)
    for collector in ("realtime", "resource"):
        assert sample(text, "vsxi_collector_success", target="sbc-1", collector=collector) == 1
    assert sample(text, "vsxi_system_active_sessions", target="sbc-1") is not None
    assert sample(text, "vsxi_up", target="sbc-1") == 1 and engine.states["sbc-1"].rounds == 1

"""XiVO collectors against the XiVO 16 and Wazo simulators over real HTTP: values, the token lifecycle,
digest auth, and each fault, asserting the metric an operator sees and the log line they read."""

import logging
import re

import pytest
from conftest import promtool_check
from helpers import make_engine, make_xivo, sample

from exporter.simulator.xivo_model import XivoScale
from exporter.web.app import create_app
from exporter.xivo.config import COLLECTORS as XIVO_COLLECTORS
from exporter.xivo.config import DEFAULT_COLLECTORS


@pytest.fixture
async def pbx(aiohttp_client):
    """pbx(generation, **options) -> (sim, engine, client); everything is stopped after the test."""
    cleanup = []

    async def start(generation="xivo16", **options):
        sim, target, runners = await make_xivo(generation, **options)
        engine = make_engine(target)
        client = await aiohttp_client(create_app(engine, manage_engine=False))
        cleanup.append((engine, runners))
        return sim, engine, client

    yield start
    for engine, runners in cleanup:
        await engine.stop()
        for runner in runners:
            await runner.cleanup()


async def scrape(client) -> str:
    """The exposition, after promtool accepted it (every exposition the tests produce is checked)."""
    text = await (await client.get("/metrics")).text()
    promtool_check(text.encode())
    return text


def requests_of(sim, service=None, method=None):
    return [r for r in sim.log if (service is None or r["service"] == service)
            and (method is None or r["method"] == method)]


def failures(caplog, level=logging.WARNING):
    return [r for r in caplog.records if r.getMessage() == "poll failed" and r.levelno == level]


async def test_xivo16_every_collector(pbx, check_metrics):
    sim, engine, client = await pbx("xivo16", collectors=XIVO_COLLECTORS, queue_members=True)
    await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-xivo16"}
    assert sample(text, "xivo_up", **t) == 1
    for c in XIVO_COLLECTORS:
        assert sample(text, "xivo_collector_success", collector=c, **t) == 1, c
    assert sample(text, "xivo_objects", kind="users", **t) == 120
    assert sample(text, "xivo_objects", kind="endpoints/sccp", **t) == 12
    assert sample(text, "xivo_objects", kind="queues", **t) is None
    assert sample(text, "xivo_objects_unsupported", kind="queues", **t) == 1  # XiVO 16 has no confd queues
    # The kinds each generation has (xivo-api.md): XiVO 16 counts call permissions, entities, function key
    # templates and CTI profiles; music on hold, applications and tenants are Wazo's.
    for kind in ("callpermissions", "entities", "funckeys/templates", "cti_profiles"):
        assert sample(text, "xivo_objects", kind=kind, **t) is not None, kind
    for kind in ("moh", "applications", "tenants"):
        assert sample(text, "xivo_objects_unsupported", kind=kind, **t) == 1, kind
    assert sample(text, "xivo_lines", protocol="sip", **t) == 96
    assert [sample(text, "xivo_devices", status=s, **t) for s in ("configured", "autoprov", "not_configured")] \
        == [70, 10, 10]
    assert (sample(text, "xivo_agents", **t), sample(text, "xivo_agents_logged_in", **t)) == (12, 8)
    assert sample(text, "xivo_agents_paused", **t) is None  # upstream XiVO has no pause state: absent, not 0
    assert sample(text, "xivo_queue_callers", queue="queue2", **t) == 2
    assert sample(text, "xivo_queue_agents_available", queue="queue2", **t) == 0
    # amid QueueStatus as the simulator writes it (values as strings, Asterisk's formats): the parser's own
    # truth is tests/test_xivo_parsers.py, from hand-written answers.
    assert sample(text, "xivo_queue_calls_completed_total", queue="queue2", **t) >= 80
    assert sample(text, "xivo_queue_service_level_target_seconds", queue="queue2", **t) == 30
    assert sample(text, "xivo_queue_service_level_ratio", queue="queue1", **t) == 0.8
    assert sample(text, "xivo_queue_service_level_ratio", queue="queue3", **t) is None  # nothing answered yet
    assert sample(text, "xivo_queue_service_level_offered_ratio", queue="queue1", **t) is None  # older Asterisk
    assert sample(text, "xivo_queue_member_paused", queue="queue2", member="Agent 1", **t) == 1
    assert sample(text, "xivo_queue_member_in_call", queue="queue2", member="Agent 2", **t) is None
    assert sample(text, "xivo_current_calls", **t) is not None
    assert sample(text, "xivo_sip_peers", status="unreachable", **t) == 3  # 2 phones and trunk3
    # The trunks (peers with a configured host), each with its qualify state and round trip.
    assert sample(text, "xivo_sip_trunk_status", trunk="trunk1", status="lagged", **t) == 1
    assert sample(text, "xivo_sip_trunk_qualify_rtt_seconds", trunk="trunk1", **t) == 1.2
    assert sample(text, "xivo_sip_trunk_status", trunk="trunk3", status="unreachable", **t) == 1
    assert sample(text, "xivo_sip_trunk_qualify_rtt_seconds", trunk="trunk3", **t) is None
    assert sample(text, "xivo_sip_trunk_status", trunk="peer0", status="ok", **t) is None  # a phone
    assert sample(text, "xivo_core_startup_timestamp_seconds", **t) > 0
    assert sample(text, "xivo_trunk_registered", trunk="trunk2@sip2.carrier.example", **t) == 0
    assert sample(text, "xivo_trunk_registered", trunk="trunk1@sip1.carrier.example", **t) == 1
    check_metrics(text.encode())
    # Cheap, read-only requests only.
    paths = [(r["method"], r["path"], r["query"]) for r in sim.log]
    assert not [p for p in paths if p[2].get("limit") == "0"]
    assert not [p for p in paths if p[1].endswith(("/autoprov", "/synchronize", "/calls"))]
    assert {p[0] for p in paths if not p[1].endswith("/token")} <= {"GET", "POST"}
    assert all(p[1].startswith("/1.0/action/") for p in paths if p[0] == "POST" and "/token" not in p[1])
    assert "secret1" not in text  # user items carry passwords on XiVO 16


async def test_wazo_every_collector(pbx, check_metrics):
    sim, engine, client = await pbx("wazo", collectors=XIVO_COLLECTORS, queue_members=True)
    await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-wazo"}
    assert sample(text, "xivo_up", **t) == 1
    for c in XIVO_COLLECTORS:
        assert sample(text, "xivo_collector_success", collector=c, **t) == 1, c
    assert sample(text, "xivo_objects", kind="queues", **t) == 3
    assert "xivo_objects_unsupported{" not in text
    for kind in ("moh", "applications", "tenants", "callpermissions", "funckeys/templates"):
        assert sample(text, "xivo_objects", kind=kind, **t) is not None, kind
    assert sample(text, "xivo_devices", status="corrupted", **t) == 9
    assert sample(text, "xivo_agents_paused", **t) == 2
    assert sample(text, "xivo_trunk_registered", trunk="carrier-2", **t) == 0
    assert sample(text, "xivo_trunk_current_calls", trunk="carrier-3", **t) == 3
    assert sample(text, "xivo_lines_registration", state="unregistered", **t) == 24
    # SIP trunks by their PJSIP contacts (PJSIPShowContacts), the lines' contacts left out.
    assert sample(text, "xivo_sip_trunk_status", trunk="carrier-1", status="ok", **t) == 1
    assert sample(text, "xivo_sip_trunk_qualify_rtt_seconds", trunk="carrier-1", **t) == 0.016
    assert sample(text, "xivo_sip_trunk_status", trunk="carrier-2", status="unreachable", **t) == 1
    assert sample(text, "xivo_sip_trunk_status", trunk="line1", status="unmonitored", **t) is None
    assert sample(text, "xivo_sip_trunk_status", trunk="iax-legacy", status="unknown", **t) is None  # not SIP
    assert sample(text, "xivo_queue_service_level_offered_ratio", queue="queue1", **t) is not None
    assert sample(text, "xivo_queue_member_in_call", queue="queue1", member="Agent 2", **t) == 1
    assert "xivo_sip_peers{" not in text  # PJSIP: no chan_sip peers
    assert all(r["path"].startswith("/api/") for r in sim.log if r["service"] != "control")
    check_metrics(text.encode())


async def test_devices_are_paginated(pbx):
    sim, engine, client = await pbx("xivo16", scale=XivoScale(devices=1201), collectors=["devices"])
    await engine.poll_once()
    text = await scrape(client)
    offsets = [r["query"]["offset"] for r in requests_of(sim, "confd") if r["path"].endswith("/devices")]
    assert offsets == ["0", "500", "1000"]
    total = sum(sample(text, "xivo_devices", target="pbx-xivo16", status=s) for s in
                ("configured", "autoprov", "not_configured"))
    assert total == 1201


async def test_one_token_shared_renewed_from_the_local_clock_and_revoked(pbx):
    sim, engine, client = await pbx("xivo16")
    await engine.poll_once()
    await engine.poll_once()
    assert sim.issued == 1  # one token for all collectors and rounds
    poller = engine.pollers["pbx-xivo16"]
    first = poller.client._token
    now = poller.client.clock()
    poller.client.clock = lambda: now + 0.81 * 3600  # past 80% of the 3600 s lifetime
    await engine.poll_once()
    assert sim.issued == 2 and first in sim.revoked  # renewed before expiry, the old one revoked
    text = await scrape(client)
    assert sample(text, "vsxi_xivo_exporter_token_renewals_total", target="pbx-xivo16") == 2
    await engine.stop()
    assert poller.client._token is None and len(sim.revoked) == 2  # revoked at shutdown
    assert sim.tokens == {}


async def test_401_reauthenticates_once_and_retries(pbx, caplog):
    sim, engine, client = await pbx("xivo16", collectors=["agents"])
    await engine.poll_once()
    sim.tokens.clear()  # the PBX forgot our token (restart of xivo-auth)
    await engine.poll_once()
    assert sim.issued == 2
    text = await scrape(client)
    assert sample(text, "xivo_collector_success", target="pbx-xivo16", collector="agents") == 1
    assert not failures(caplog)


async def test_token_expiring_mid_poll(pbx, caplog):
    collectors = ["agents", "queues", "channels", "sip"]
    # Each token works for one request: the poll outlives its tokens whatever the machine's speed (a lifetime
    # in seconds made the count depend on it).
    sim, engine, client = await pbx("wazo", faults={"max_token_uses": 1}, collectors=collectors)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_up", target="pbx-wazo") == 1
    for c in collectors:
        assert sample(text, "xivo_collector_success", target="pbx-wazo", collector=c) == 1
    served = [e for e in sim.log if e["service"] != "auth"]
    assert sim.issued > 2 and sim.issued * 2 >= len(served)  # a new token as each one expired under the poll
    assert not failures(caplog)


async def test_bad_credentials_one_line_no_storm(pbx, caplog):
    sim, engine, client = await pbx("xivo16", password="wrong")
    await engine.poll_once()
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_up", target="pbx-xivo16") == 0
    assert len(requests_of(sim)) == 2  # one token request per round, nothing else
    assert sample(text, "vsxi_xivo_exporter_auth_failures_total", family="xivo", target="pbx-xivo16",
                  reason="auth_failed") == 2
    (line,) = failures(caplog)
    assert line.fields["reason"] == "auth_failed"
    assert line.fields["error"] == ("xivo-auth refused the credentials of 'exporter' with backend xivo_service "
                                    "(check username, password and backend)")
    assert "wrong" not in caplog.text.replace("(check", "")


async def test_wrong_backend_is_an_auth_failure(aiohttp_client):
    sim, target, runners = await make_xivo("wazo")
    target = target.__class__(**{**{k: v for k, v in target.__dict__.items() if k != "family"},
                                 "backend": "xivo_service"})
    engine = make_engine(target)
    try:
        await engine.poll_once()
        assert engine.states["pbx-wazo"].collectors["objects"].reason == "auth_failed"
    finally:
        await engine.stop()
        for r in runners:
            await r.cleanup()


async def test_auth_server_down_is_not_pbx_down(pbx, caplog):
    sim, engine, client = await pbx("xivo16", faults={"auth_down": True})
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_up", target="pbx-xivo16") == 0
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", family="xivo", target="pbx-xivo16",
                  collector="objects", reason="auth_unavailable") == 1
    (line,) = failures(caplog)
    assert line.fields["reason"] == "auth_unavailable"
    # Auth goes down after a token was issued: services answer 503, still reported as auth, not PBX.
    sim.faults.update({"auth_down": False})
    await engine.poll_once()
    sim.faults.update({"auth_down": True})
    await engine.poll_once()
    objects = engine.states["pbx-xivo16"].collectors["objects"]
    assert objects.reason == "auth_unavailable"
    assert "xivo-auth unreachable: the PBX itself may be fine" in objects.error


async def test_digest_auth_for_legacy_confd(pbx, check_metrics):
    sim, engine, client = await pbx("xivo16", auth="digest", collectors=["objects", "devices"])
    await engine.poll_once()
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_up", target="pbx-xivo16") == 1
    assert sample(text, "xivo_objects", target="pbx-xivo16", kind="users") == 120
    assert sample(text, "xivo_collector_success", target="pbx-xivo16", collector="devices") == 1
    assert requests_of(sim, "auth") == []  # no token involved
    confd = requests_of(sim, "confd")
    # Round 1: 28 collections (10 answer 404 and are not asked again), 3 line protocols, 1 device page;
    # round 2: 18 + 3 + 1. Plus 2 for the first challenge (the middleware's retry without the session cookie).
    assert len(confd) == (28 + 3 + 1) + (18 + 3 + 1) + 2
    check_metrics(text.encode())


async def test_digest_wrong_password(pbx, caplog):
    sim, engine, client = await pbx("xivo16", auth="digest", password="wrong", collectors=["objects", "devices"])
    await engine.poll_once()
    state = engine.states["pbx-xivo16"]
    assert state.collectors["objects"].reason == "http_401"
    assert not state.up


async def test_an_account_without_the_pjsip_contacts_acl_keeps_its_sip_collector(pbx, caplog):
    """An account made for an earlier version lacks amid.action.PJSIPShowContacts.create: the sip collector
    still succeeds, the trunks' qualify state is left out (not "unreachable"), the ACL to add is logged once,
    and the action is not asked again."""
    from exporter.simulator.xivo_app import DEFAULT_ACLS

    acls = [a for a in DEFAULT_ACLS if a != "amid.action.PJSIPShowContacts.create"]
    sim, engine, client = await pbx("wazo", acls=acls)
    with caplog.at_level(logging.INFO, logger="exporter.poller"):
        await engine.poll_once()
        await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-wazo"}
    assert sample(text, "xivo_collector_success", collector="sip", **t) == 1
    assert sample(text, "xivo_trunk_registered", trunk="carrier-1", **t) == 1
    assert "xivo_sip_trunk_status{" not in text
    warned = [r for r in caplog.records if r.getMessage().startswith("AMI actions refused")]
    assert len(warned) == 1 and warned[0].fields["acl"] == "amid.action.PJSIPShowContacts.create"
    asked = [r for r in sim.log if r["path"].endswith("/action/PJSIPShowContacts")]
    assert len(asked) == 2  # the first round: refused, and once more after re-authenticating; never again


async def test_missing_acl_fails_that_collector_only(pbx, caplog):
    from exporter.simulator.xivo_app import DEFAULT_ACLS

    acls = [a for a in DEFAULT_ACLS if a != "amid.action.QueueSummary.create"]
    sim, engine, client = await pbx("xivo16", acls=acls)
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_collector_success", target="pbx-xivo16", collector="queues") == 0
    assert sample(text, "xivo_collector_success", target="pbx-xivo16", collector="sip") == 1
    assert sample(text, "xivo_up", target="pbx-xivo16") == 1
    (line,) = failures(caplog)
    assert (line.fields["collector"], line.fields["reason"]) == ("queues", "http_401")
    assert "check the account's ACLs" in line.fields["error"]
    assert sim.issued == 2  # the 401 re-authenticated once, then gave up on that collector


@pytest.mark.parametrize("faults,failing,reason,message", [
    ({"status": {"agentd": 500}}, ["agents"], "http_5xx", "agentd /agents: HTTP 500: simulated failure"),
    ({"devices_status": 503}, ["devices"], "http_5xx", "confd /devices: HTTP 503: provd unreachable"),
    ({"malformed": ["amid"]}, ["queues", "channels", "sip"], "invalid_payload",
     "queues: amid QueueSummary: malformed JSON"),
    ({"malformed": ["confd"]}, ["objects", "devices"], "invalid_payload", "objects: confd /users: malformed JSON"),
])
async def test_a_failing_service_fails_its_collectors_only(pbx, caplog, check_metrics, faults, failing, reason,
                                                           message):
    collector = failing[0]
    sim, engine, client = await pbx("xivo16", faults=faults)
    await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-xivo16"}
    assert sample(text, "xivo_collector_success", collector=collector, **t) == 0
    assert sample(text, "vsxi_xivo_exporter_poll_errors_total", family="xivo", collector=collector, reason=reason,
                  **t) == 1
    assert sample(text, "xivo_up", **t) == 1
    for c in DEFAULT_COLLECTORS:
        assert sample(text, "xivo_collector_success", collector=c, **t) == (0 if c in failing else 1), c
    assert sample(text, "xivo_collector_success", collector="queue_status", **t) is None  # not asked for
    line = next(r for r in failures(caplog) if r.fields["collector"] == collector)
    assert line.fields["reason"] == reason and line.fields["error"].startswith(message)
    check_metrics(text.encode())


async def test_slow_pbx_times_out(pbx, caplog):
    sim, engine, client = await pbx("xivo16", faults={"latency": 0.5}, timeout=0.2, interval=1.0)
    await engine.poll_once()
    state = engine.states["pbx-xivo16"]
    assert not state.up
    assert state.collectors["objects"].reason == "auth_unavailable"  # the token request itself timed out
    assert "xivo-auth unreachable" in state.collectors["objects"].error


@pytest.mark.parametrize("status,reason", [(429, "http_429"), (503, "http_5xx")])
@pytest.mark.parametrize("retry_after,pause", [(60, 60.0), (3600, 600.0)])
async def test_retry_after_from_a_pbx_is_honoured_bounded_and_shown(pbx, status, reason, retry_after, pause):
    import time

    sim, engine, client = await pbx("wazo", faults={"status": {"confd": status}, "retry_after": retry_after})
    before = time.time()
    await engine.poll_once()
    state = engine.states["pbx-wazo"]
    assert state.collectors["objects"].reason == reason
    asked = len([r for r in sim.log if r["service"] == "confd"])
    assert asked == 1  # the rest of the round was not sent
    text = await scrape(client)
    until = sample(text, "vsxi_xivo_exporter_backoff_until_timestamp_seconds", family="xivo", target="pbx-wazo")
    assert before + pause - 1 <= until <= time.time() + pause + 1
    sent = len([r for r in sim.log if r["service"] != "auth"])  # confd, and the generation asked once
    await engine.poll_once()
    assert len([r for r in sim.log if r["service"] != "auth"]) == sent  # still paused: nothing asked


async def test_a_xivo_behind_gateway_paths_is_polled_as_xivo_without_any_generation_setting(aiohttp_client):
    """XiVO 16.15 already serves nginx's /api/<service>/ paths: api_gateway alone must not make it a Wazo
    (whose calld trunks and lines it does not have). The generation is asked of ctid-ng's own spec, once."""
    from helpers import make_xivo

    sim, target, runners = await make_xivo("xivo16", gateway=True, collectors=["sip"])
    assert target.api_gateway and target.generation == "auto"
    engine = make_engine(target)
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    try:
        await engine.poll_once()
        await engine.poll_once()
        text = await scrape(client)
    finally:
        await engine.stop()
        for runner in runners:
            await runner.cleanup()
    t = {"target": "pbx-xivo16"}
    assert sample(text, "xivo_collector_success", collector="sip", **t) == 1
    assert sample(text, "xivo_generation_info", generation="xivo", **t) == 1
    assert sample(text, "xivo_sip_peers", status="ok", **t) > 0
    assert any(line.startswith("xivo_trunk_registered{") for line in text.splitlines())
    assert len([r for r in sim.log if r["path"].endswith("/api/api.yml")]) == 1  # cached


async def test_wazo_is_detected_and_a_configured_generation_is_not_asked(pbx):
    sim, engine, client = await pbx("wazo", collectors=["sip"])
    await engine.poll_once()
    text = await scrape(client)
    assert sample(text, "xivo_generation_info", target="pbx-wazo", generation="wazo") == 1
    assert sample(text, "xivo_trunk_registered", target="pbx-wazo", trunk="carrier-1") == 1
    from dataclasses import replace

    from helpers import make_xivo

    sim2, target, runners = await make_xivo("wazo", name="pbx-told", collectors=["sip"])
    engine2 = make_engine(replace(target, generation="wazo"))  # generation: wazo in the config
    try:
        await engine2.poll_once()
    finally:
        await engine2.stop()
        for runner in runners:
            await runner.cleanup()
    assert engine2.states["pbx-told"].up
    assert not [r for r in sim2.log if r["path"].endswith("/api/api.yml")]


async def test_digest_auth_through_gateway_paths_on_a_xivo(aiohttp_client):
    from helpers import make_xivo

    sim, target, runners = await make_xivo("xivo16", gateway=True, auth="digest", collectors=["objects"])
    engine = make_engine(target)
    try:
        await engine.poll_once()
        state = engine.states["pbx-xivo16"]
    finally:
        await engine.stop()
        for runner in runners:
            await runner.cleanup()
    assert state.up and state.collectors["objects"].success, state.collectors["objects"].error
    assert not [r for r in sim.log if r["service"] == "auth"]


async def test_wazo_counts_cover_every_tenant_the_account_sees(pbx):
    """Wazo multi-tenancy: confd lists the token's tenant only unless asked recurse=true; the exporter asks so
    on Wazo (objects, lines by protocol, devices) and never on XiVO, which has no tenants."""
    scale = XivoScale(users=120, devices=90, tenants=3)
    sim, engine, client = await pbx("wazo", scale=scale, collectors=["objects", "devices"])
    await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-wazo"}
    assert sample(text, "xivo_objects", kind="users", **t) == 120  # 40 per tenant without recurse
    assert sample(text, "xivo_objects", kind="tenants", **t) == 3
    assert sum(sample(text, "xivo_lines", protocol=p, **t) for p in ("sip", "sccp", "custom")) == 120
    assert sum(sample(text, "xivo_devices", status=s, **t) or 0 for s in
               ("configured", "autoprov", "not_configured", "corrupted")) == 90
    confd = [r for r in requests_of(sim, "confd") if r["method"] == "GET"]
    assert confd and all(r["query"].get("recurse") == "true" for r in confd)
    assert not any("tenant" in k for line in text.splitlines() if line.startswith("xivo_objects{")
                   for k in re.findall(r"(\w+)=", line))  # no per-tenant label: bounded series


async def test_xivo_is_never_asked_recurse(pbx):
    sim, engine, _ = await pbx("xivo16", collectors=["objects", "devices"])
    await engine.poll_once()
    assert not any("recurse" in r["query"] for r in requests_of(sim, "confd"))


async def test_queue_status_without_its_acl_fails_alone(pbx, caplog):
    """An account made before queue_status existed lacks amid.action.QueueStatus.create: that collector fails
    with the PBX's refusal, the others go on."""
    from exporter.simulator.xivo_app import DEFAULT_ACLS

    acls = [a for a in DEFAULT_ACLS if "QueueStatus" not in a]
    sim, engine, client = await pbx("xivo16", acls=acls, collectors=XIVO_COLLECTORS)
    await engine.poll_once()
    text = await scrape(client)
    t = {"target": "pbx-xivo16"}
    assert sample(text, "xivo_collector_success", collector="queue_status", **t) == 0
    assert sample(text, "xivo_collector_success", collector="queues", **t) == 1
    assert sample(text, "xivo_up", **t) == 1
    assert "xivo_queue_calls_completed_total{" not in text
    line = next(r for r in failures(caplog) if r.fields["collector"] == "queue_status")
    assert "QueueStatus" in line.fields["error"]


async def test_every_collector_has_a_fetch_whose_answer_its_parser_reads(pbx):
    """The poller's fetches and the collectors table (loaded by the parse workers, which import no HTTP) are
    wired by reference: each fetch, run by a live poller against the simulator, gives what its parser reads."""
    from exporter.xivo.collectors import COLLECTORS
    from exporter.xivo.poller import FETCHES

    _, engine, _ = await pbx()
    await engine.poll_once()
    poller = next(iter(engine.pollers.values()))
    assert list(FETCHES) == list(COLLECTORS)
    for name, collector in COLLECTORS.items():
        answer = await FETCHES[name](poller)
        assert collector.parse(answer) is not None, name

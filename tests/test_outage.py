"""A partial outage: dead devices in every shape a lost site takes, beside healthy ones, over real sockets.

The healthy devices' rounds must not wait behind the dead ones' (waiting for a device holds no slot); a dead
device costs one request a round and is reported down with a reason that says how it is dead; it is polled in
full again the round it comes back. ``SlotPool`` itself (fairness, the share of suspects) is tested first.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from helpers import PASSWORD, make_engine, make_target, sample

from exporter.simulator.outage import MODES, DeadSite
from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.simulator.vsxi_render import render
from exporter.slots import Claim, SlotPool, claiming, reserve_for
from exporter.target import TLSConfig
from exporter.vsxi.config import VsxiTarget
from exporter.web.app import create_app

REASON = {"accept": "timeout", "syn": "connect_timeout", "tls": "connect_timeout", "trickle": "timeout",
          "refused": "connection", "dns": "dns"}
DEAD, HEALTHY = 12, 3
TIMEOUT, CONNECT_TIMEOUT = 1.0, 0.4
COLLECTORS = ("realtime", "resource", "sub_stats")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


# --- the slots ------------------------------------------------------------------------------------------------


async def test_a_freed_slot_goes_to_a_target_in_good_standing_before_a_suspect():
    pool = SlotPool(2, reserve=0)
    await pool.acquire(False)
    await pool.acquire(True)
    order: list[str] = []

    async def want(name: str, suspect: bool) -> None:
        await pool.acquire(suspect)
        order.append(name)

    waiters = [asyncio.create_task(want("suspect", True)), asyncio.create_task(want("good", False))]
    await asyncio.sleep(0)
    assert order == [] and pool.held == 2
    pool.release(True)  # the suspect that held a slot: the good waiter takes it although it came second
    await asyncio.sleep(0)
    assert order == ["good"]
    pool.release(False)
    await asyncio.gather(*waiters)
    assert order == ["good", "suspect"] and pool.held == 2 and pool.held_suspect == 1


async def test_suspects_never_hold_the_slots_kept_for_targets_in_good_standing():
    pool = SlotPool(8)
    assert pool.reserve == reserve_for(8) == 2
    for _ in range(6):
        await pool.acquire(True)
    late = asyncio.create_task(pool.acquire(True))
    await asyncio.sleep(0.01)
    assert not late.done() and pool.held == 6  # two slots free, but kept for targets in good standing
    await asyncio.wait_for(pool.acquire(False), 1)
    await asyncio.wait_for(pool.acquire(False), 1)
    assert pool.held == 8
    late.cancel()
    await asyncio.gather(late, return_exceptions=True)
    pool.release(True)
    assert pool.held == 7 and not pool._suspect  # noqa: SLF001 - the cancelled waiter left the queue


async def test_a_claim_gives_its_slot_back_when_its_poll_ends_however_it_ends():
    pool = SlotPool(1)
    waits: list[float] = []
    with pytest.raises(RuntimeError):
        with claiming(Claim(pool, False, waits.append)) as claim:
            await claim.take()
            await claim.take()  # once only
            assert pool.held == 1
            raise RuntimeError("the poll failed")
    assert pool.held == 0 and len(waits) == 1


# --- dead devices beside healthy ones ---------------------------------------------------------------------------


@pytest.fixture(params=MODES)
async def dead_site(request):
    site = DeadSite(request.param, trickle_every=0.2)
    await site.start()
    yield site
    await site.close()


def dead_targets(site: DeadSite) -> list[VsxiTarget]:
    tls = {"insecure_skip_verify": True} if site.url.startswith("https") else {}
    return [VsxiTarget(name=f"sbc-dead-{i:02d}", url=site.url, username="monitor", password=PASSWORD,
                       collectors=COLLECTORS, interval=5.0, timeout=TIMEOUT, connect_timeout=CONNECT_TIMEOUT,
                       tls=TLSConfig(**tls)) for i in range(DEAD)]


async def timed_round(poller) -> float:
    t0 = time.monotonic()
    await poller.poll_round()
    return time.monotonic() - t0


async def test_dead_devices_cost_the_healthy_ones_nothing_and_one_request_each(dead_site, aiohttp_server,
                                                                                aiohttp_client, monkeypatch):
    """Twelve dead devices and two slots. The first round, when they are not known to be dead, each holds a
    slot for GRACE at most (0.1 s here), so each healthy round waits 6 x 0.1 s at most; from the second, they
    are suspects and hold none: each healthy round ends in moments (on the code where a request held its slot
    from its start to its end, each healthy round waited for 6 dead requests of 1 s, and retried ones). Each
    dead device is asked one table a round, is down with its reason, holds no slot and no byte once its round
    ends, and memory stays put."""
    from exporter import slots

    monkeypatch.setattr(slots, "GRACE", 0.1)
    healthy = [(await make_target(aiohttp_server, name=f"sbc-ok-{i}", collectors=COLLECTORS, interval=5.0,
                                  timeout=TIMEOUT)) for i in range(HEALTHY)]
    dead = dead_targets(dead_site)
    engine = make_engine(*dead, *(t for _, t in healthy), max_concurrent=2)
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    await engine.workers.start()
    engine._build_pollers()  # noqa: SLF001 - as start() does, without the schedule: the rounds run here
    before = rss_mb()
    try:
        for round_ in (1, 2):
            dead_rounds = [asyncio.create_task(timed_round(engine.pollers[t.name])) for t in dead]
            await asyncio.sleep(0.05)  # every dead request is out before the healthy rounds start
            healthy_times = await asyncio.gather(*(timed_round(engine.pollers[t.name]) for _, t in healthy))
            dead_times = await asyncio.gather(*dead_rounds)
            queued = DEAD / 2 * slots.GRACE if round_ == 1 else 0.0  # behind dead devices' GRACE, the first time
            assert max(healthy_times) < queued + 0.4, (dead_site.mode, round_, healthy_times)
            assert max(dead_times) < queued + TIMEOUT + 0.4, (dead_site.mode, round_, dead_times)  # no retry
            monkeypatch.setattr(slots, "GRACE", 1.0)  # suspects take no slot to wait: GRACE no longer matters
            for _, t in healthy:
                assert engine.states[t.name].up and all(c.success for c in engine.states[t.name].collectors.values())
            for t in dead:
                state = engine.states[t.name]
                assert not state.up and engine.pollers[t.name].suspect
                assert {c.reason for c in state.collectors.values()} == {REASON[dead_site.mode]}, state
            assert engine.slots.held == 0 and engine.budget.used == 0
            if dead_site.mode in ("accept", "tls", "trickle"):  # one connection, one request, per dead device
                assert dead_site.connections == DEAD * round_
        # A third round of the dead alone, known dead now: not one slot taken to wait for them (a trickling body
        # takes one of the suspects' share for the moment each of its pieces is read).
        engine.slots.high_water = 0
        await asyncio.gather(*(engine.pollers[t.name].poll_round() for t in dead))
        if dead_site.mode == "trickle":  # within the suspects' share: the reserve stays free for the healthy
            assert engine.slots.high_water <= engine.slots.limit - engine.slots.reserve == 1
        else:
            assert engine.slots.high_water == 0
        text = await (await client.get("/metrics")).text()
        for t in dead:
            assert sample(text, "vsxi_up", target=t.name) == 0
            assert sample(text, "vsxi_xivo_exporter_device_requests_total", target=t.name,
                          outcome=REASON[dead_site.mode]) == 3
            assert sample(text, "vsxi_xivo_exporter_poll_errors_total", family="vsxi", target=t.name,
                          collector="sub_stats", reason=REASON[dead_site.mode]) == 3  # reported, not asked
        assert sample(text, "vsxi_xivo_exporter_slot_wait_seconds_count", family="vsxi") >= HEALTHY * len(COLLECTORS)
        assert rss_mb() - before < 20
    finally:
        await engine.stop()


async def test_a_device_back_from_an_outage_is_polled_in_full_the_next_round(aiohttp_server):
    """Dead (accepts, never answers), then its address answers again: the next round reads every table."""
    sim = VsxiSimulator(username="monitor", password=PASSWORD)
    site = DeadSite("accept")
    await site.start()
    port = int(site.url.rsplit(":", 1)[1])
    target = VsxiTarget(name="sbc-back", url=site.url, username="monitor", password=PASSWORD, collectors=COLLECTORS,
                        interval=5.0, timeout=TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    engine = make_engine(target)
    await engine.workers.start()
    try:
        await engine.poll_once()
        assert not engine.states["sbc-back"].up and engine.pollers["sbc-back"].suspect
        await site.close()
        runner = web.AppRunner(sim.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()  # the device is back, at the same address
        standings: list[bool] = []
        acquire = engine.slots.acquire

        async def recorded(suspect: bool, started: bool = False) -> None:
            standings.append(suspect)
            await acquire(suspect, started)

        engine.slots.acquire = recorded
        try:
            await engine.poll_once()
            # Its first table is read as a suspect's (it was one); once it has answered, it is not one any more.
            assert standings[0] is True and standings[1:] == [False] * (len(standings) - 1), standings
            state = engine.states["sbc-back"]
            assert state.up and all(c.success for c in state.collectors.values())
            assert not engine.pollers["sbc-back"].suspect
            assert [r["table"] for r in sim.requests] == list(COLLECTORS)
        finally:
            await runner.cleanup()
    finally:
        await engine.stop()


async def test_a_slow_body_gives_its_slot_back_while_it_waits(aiohttp_server):
    """One slot, three devices whose answers come in two halves 0.3 s apart: the halves of the three are read
    as they come, not one whole answer after the other (each answer would then wait for the one before)."""

    async def halves(request: web.Request) -> web.StreamResponse:
        body = render(sim.model.answer(request.match_info["table"]), "xml", sim.layout)
        response = web.StreamResponse(headers={"Content-Type": "application/xml",
                                               "Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        await asyncio.sleep(0.3)
        await response.write(body[len(body) // 2:])
        return response

    sim = VsxiSimulator(username="monitor", password=PASSWORD)
    targets = []
    for i in range(3):
        app = web.Application()
        app.router.add_get("/SSConfig/webresources/stats/{table}", halves)
        server = await aiohttp_server(app)
        targets.append(VsxiTarget(name=f"sbc-{i}", url=str(server.make_url("")).rstrip("/"), username="monitor",
                                  password=PASSWORD, collectors=("realtime",), interval=5.0, timeout=2.0))
    engine = make_engine(*targets, max_concurrent=1)
    await engine.workers.start()
    try:
        t0 = time.monotonic()
        await engine.poll_once()
        elapsed = time.monotonic() - t0
        assert all(engine.states[t.name].up for t in targets)
        assert elapsed < 0.75, elapsed  # 3 x 0.3 s if each body held the slot through its pause
        assert engine.slots.high_water == 1
    finally:
        await engine.stop()


async def test_a_fleet_starting_together_sends_a_slots_worth_of_requests_at_once(aiohttp_server):
    """Forty healthy devices polled at the same instant with two slots: their requests go out two at a time,
    so their answers never land all at once in the HTTP client's buffers, outside the byte budget (each request
    sent with nothing to hold it back was +50 MB at the start of a 1,000-SBC fleet, bench/fleet.py)."""
    sim = VsxiSimulator(username="monitor", password=PASSWORD, faults={"reject_concurrent": False, "latency": 0.02})
    server = await aiohttp_server(sim.app())
    most = 0
    answer = sim._answer  # noqa: SLF001 - counted as it answers

    async def counted(*args):
        nonlocal most
        most = max(most, sim.in_flight)
        return await answer(*args)

    sim._answer = counted  # noqa: SLF001
    url = str(server.make_url("")).rstrip("/")
    targets = [VsxiTarget(name=f"sbc-{i:02d}", url=url, username="monitor", password=PASSWORD,
                          collectors=("realtime", "resource"), interval=5.0, timeout=2.0) for i in range(40)]
    engine = make_engine(*targets, max_concurrent=2)
    await engine.workers.start()
    try:
        await engine.poll_once()
        assert all(engine.states[t.name].up for t in targets)
        assert len(sim.requests) == 80 and most == 2 and engine.slots.high_water == 2
    finally:
        await engine.stop()


@pytest.mark.parametrize("hung", ["auth", "confd"])
async def test_a_pbx_whose_auth_or_one_service_hangs_costs_the_others_nothing(hung, aiohttp_server):
    """Six XiVO PBXs whose xivo-auth (or confd) accepts connections and never answers, beside three SBCs, one
    slot: from their second round the SBCs' rounds end in moments, and each PBX is asked once a round."""
    from dataclasses import replace

    from helpers import make_xivo

    from exporter import slots

    site = DeadSite("accept")
    await site.start()
    sim, pbx, runners = await make_xivo("xivo16", timeout=TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    base = dict(pbx.services)
    pbxs = [replace(pbx, name=f"pbx-{i}", services={**base, hung: site.url + "/0.1" if hung == "auth" else
                                                    site.url + "/1.1"}) for i in range(6)]
    healthy = [(await make_target(aiohttp_server, name=f"sbc-ok-{i}", collectors=COLLECTORS, interval=5.0,
                                  timeout=TIMEOUT))[1] for i in range(HEALTHY)]
    engine = make_engine(*pbxs, *healthy, max_concurrent=1)
    await engine.workers.start()
    engine._build_pollers()  # noqa: SLF001 - the rounds run here
    try:
        for round_ in (1, 2):
            hung_rounds = [asyncio.create_task(engine.pollers[p.name].poll_round()) for p in pbxs]
            await asyncio.sleep(0.05)
            times = await asyncio.gather(*(timed_round(engine.pollers[t.name]) for t in healthy))
            await asyncio.gather(*hung_rounds)
            if round_ == 2:
                assert max(times) < 0.4, (hung, times)
            else:
                assert max(times) < 6 * slots.GRACE + 0.4, (hung, times)
            assert all(engine.states[t.name].up for t in healthy)
            for p in pbxs:
                assert not engine.states[p.name].up and engine.pollers[p.name].suspect, engine.states[p.name]
            assert site.connections <= 6 * round_  # one hung request per PBX and round, no retry
            assert engine.slots.held == 0 and engine.budget.used == 0
        reasons = {c.reason for p in pbxs for c in engine.states[p.name].collectors.values()}
        assert reasons == ({"auth_unavailable"} if hung == "auth" else {"timeout"}), reasons
    finally:
        await engine.stop()
        await site.close()
        for runner in runners:
            await runner.cleanup()


async def test_names_that_resolve_slowly_delay_neither_metrics_nor_the_healthy_devices(aiohttp_server,
                                                                                      aiohttp_client, monkeypatch):
    """Twelve devices whose names take 1.5 s to fail to resolve (a lost site's DNS server), beside three healthy
    ones: /metrics answers at once while their lookups run (they had filled the event loop's default threads,
    which serve /metrics: it timed out in bench/fleet.py --dead-mode dns), the healthy rounds end in moments,
    each name is looked up once, and its failure is remembered: the next round asks the DNS server nothing."""
    import socket

    from exporter import resolver, slots

    monkeypatch.setattr(slots, "GRACE", 0.05)  # their first round: a slot each for a moment (tested above)
    real = socket.getaddrinfo
    asked: list[str] = []

    def slow_dns(host, *args, **kwargs):
        if str(host).endswith(".lost.invalid"):
            asked.append(host)
            time.sleep(1.5)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_dns)
    monkeypatch.setattr(resolver, "_failed", {})
    dead = [VsxiTarget(name=f"sbc-dead-{i:02d}", url=f"http://sbc-{i:02d}.lost.invalid:8888", username="monitor",
                       password=PASSWORD, collectors=COLLECTORS, interval=5.0, timeout=TIMEOUT,
                       connect_timeout=CONNECT_TIMEOUT) for i in range(DEAD)]
    healthy = [(await make_target(aiohttp_server, name=f"sbc-ok-{i}", collectors=COLLECTORS, interval=5.0,
                                  timeout=TIMEOUT))[1] for i in range(HEALTHY)]
    engine = make_engine(*dead, *healthy, max_concurrent=2)
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    await engine.workers.start()
    engine._build_pollers()  # noqa: SLF001 - the rounds run here
    try:
        dead_rounds = [asyncio.create_task(engine.pollers[t.name].poll_round()) for t in dead]
        await asyncio.sleep(0.1)  # every lookup is out, holding its thread
        t0 = time.monotonic()
        assert (await client.get("/metrics")).status == 200
        assert time.monotonic() - t0 < 1.0
        times = await asyncio.gather(*(timed_round(engine.pollers[t.name]) for t in healthy))
        assert max(times) < DEAD / 2 * slots.GRACE + 0.4, times
        assert all(engine.states[t.name].up for t in healthy)
        await asyncio.gather(*dead_rounds)
        for _ in range(100):  # the lookups end after their callers gave up (connect_timeout), and are remembered
            if not resolver._inflight:  # noqa: SLF001
                break
            await asyncio.sleep(0.1)
        assert sorted(asked) == sorted(f"sbc-{i:02d}.lost.invalid" for i in range(DEAD))
        await asyncio.gather(*(engine.pollers[t.name].poll_round() for t in dead))
        assert len(asked) == DEAD  # nothing asked again
        for t in dead:
            assert {c.reason for c in engine.states[t.name].collectors.values()} == {"dns"}
    finally:
        await engine.stop()

"""Memory is bounded for the process, not per answer: hostile devices over real sockets.

Six devices stream endless bodies without a length (a well-formed registration list that never ends, so the
parser keeps reading) and six answer gzip bombs (tiny on the wire, huge once decompressed), all at once,
beside a healthy SBC. Large answers are parsed as they arrive, a few chunks at a time, and every byte read
is drawn from the process-wide budget: what is held at once stays under it, the hostile tables fail with a
reason, and the healthy target is served as usual.
"""

import asyncio
import gzip
import os

from aiohttp import web
from helpers import children, hold_table, make_engine, make_target

from exporter.vsxi.config import VsxiTarget

MiB = 1 << 20
BUDGET = 8 * MiB
PER_ANSWER = 16 * MiB  # 12 x 16 MiB would be 192 MiB held at once if answers were read whole
BOMB = gzip.compress(b"<XBSubStatsList>" + b" " * (64 * MiB), compresslevel=9)  # ~64 kB on the wire
ITEM = b"<XBSubStats><username>u</username><trunkId>1</trunkId><states>REGISTERED</states></XBSubStats>"


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


async def endless(request):
    response = web.StreamResponse(headers={"Content-Type": "application/xml"})
    await response.prepare(request)  # chunked: no Content-Length to refuse up front
    await response.write(b"<XBSubStatsList>")
    block = ITEM * 1000
    try:
        while True:
            await response.write(block)
    except (ConnectionResetError, RuntimeError):
        return response


async def bomb(request):
    return web.Response(body=BOMB, headers={"Content-Type": "application/xml", "Content-Encoding": "gzip"})


async def test_hostile_answers_stay_within_the_process_budget(aiohttp_server):
    app = web.Application()
    app.router.add_get("/endless/{n}/{tail:.*}", endless)
    app.router.add_get("/bomb/{n}/{tail:.*}", bomb)
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    hostile = [VsxiTarget(name=f"{kind}-{n}", url=f"{base}/{kind}/{n}", username="u", password="p",
                          collectors=("sub_stats",), interval=30.0, timeout=20.0,
                          max_response_bytes=PER_ANSWER)
               for kind in ("endless", "bomb") for n in range(6)]
    _, healthy = await make_target(aiohttp_server, name="sbc-ok", interval=30.0, timeout=20.0)
    engine = make_engine(*hostile, healthy)
    engine.config = type(engine.config)(path="test", targets=engine.config.targets, max_in_flight_bytes=BUDGET)
    await engine.workers.start()  # as Engine.start() does: the answers are parsed in worker processes
    workers = [w.process.pid for w in engine.workers.pool._workers]  # noqa: SLF001
    peak, before, worker_peak = 0.0, rss_mb(), 0.0
    done = asyncio.Event()

    async def sample():
        nonlocal peak, worker_peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            worker_peak = max(worker_peak, max(rss_mb(pid) for pid in workers))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        await engine.poll_once()
    finally:
        done.set()
        await sampler
        await engine.stop()

    assert engine.budget.high_water <= BUDGET
    assert engine.budget.used == 0  # every byte given back
    for target in hostile:
        c = engine.states[target.name].collectors["sub_stats"]
        assert c.reason in ("too_large", "memory_budget"), (target.name, c.reason, c.error)
        if target.name.startswith("bomb") and c.reason == "too_large":
            assert "decompression bomb" in c.error  # stopped by the ratio, long before the size limit
    ok = engine.states["sbc-ok"]
    assert ok.up and all(c.success for c in ok.collectors.values())
    assert peak - before < 2 * BUDGET / MiB + 10, f"RSS grew {peak - before:.0f} MB (budget {BUDGET // MiB} MiB)"
    assert worker_peak < 60, f"a parse worker reached {worker_peak:.0f} MB"


def tree_rss_mb(pid: int) -> tuple[float, float, float]:
    """RSS of a process, of it with its children (the parse workers), and of its largest child, in MB."""
    main = rss_mb(pid)
    total, largest = main, 0.0
    for child in children(pid):
        try:
            child_mb = rss_mb(child)
        except FileNotFoundError:
            continue
        total += child_mb
        largest = max(largest, child_mb)
    return main, total, largest


MARGIN_MB = 48  # over base + budget: aiohttp and zlib buffers, pipe buffers, the allocator's slack
WORKER_MB = 72  # a parse worker: Python and lxml (~23 MB), the parsers' state and the chunks of its answer
HOSTILE_ENDLESS, HOSTILE_BOMBS = 40, 8
FILLED_BUDGET = 32 * MiB


async def test_the_exporter_stays_within_base_plus_budget_with_the_budget_full(aiohttp_server, tmp_path):
    """The memory model, asserted with the budget full on purpose: the exporter process stays within

        base + global.max_in_flight_bytes + MARGIN_MB

    where base is the same process measured in this test once it serves the healthy SBC, before any hostile
    byte arrives (forty endless bodies and eight gzip bombs are held behind a gate until then). An answer
    is read whole up to 1 MiB and streamed past it, and a streamed answer's 1 MiB head stays counted until
    the answer is done; the endless bodies pause after 1.25 MiB, so with 64 targets polled at once and a
    32 MiB budget their heads ask for more than the budget whatever the machine's speed. The test waits (on
    the exporter's own vsxi_xivo_exporter_in_flight_peak_bytes) until the budget is full, then lets the
    bodies go on. The bound is checked at its worst case, not on what a race let through.
    The parse workers are bounded the same way, by the process tree's own base. Run with -s for the figures."""
    import sys

    import aiohttp
    from helpers import PASSWORD, sample

    gate, release = asyncio.Event(), asyncio.Event()

    def gated(handler):
        async def serve(request):
            await gate.wait()
            return await handler(request)
        return serve

    async def endless_held_after_the_head(request):
        """An endless body that stops after 1.25 MiB until ``release``: each answer then holds its 1 MiB head
        at once, whatever the speed of the parse workers, so the heads fill the budget by design."""
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        await response.prepare(request)
        block = ITEM * 1000
        try:
            await response.write(b"<XBSubStatsList>")
            for _ in range(int(1.25 * MiB) // len(block) + 1):
                await response.write(block)
            await release.wait()
            while True:
                await response.write(block)
        except (ConnectionResetError, RuntimeError):
            return response

    app = web.Application()
    app.router.add_get("/endless/{n}/{tail:.*}", gated(endless_held_after_the_head))
    app.router.add_get("/bomb/{n}/{tail:.*}", gated(bomb))
    server = await aiohttp_server(app)
    base_url = str(server.make_url("")).rstrip("/")
    _, healthy = await make_target(aiohttp_server, name="sbc-ok")
    hostile = [(f"endless-{n}", f"{base_url}/endless/{n}") for n in range(HOSTILE_ENDLESS)] + [
        (f"bomb-{n}", f"{base_url}/bomb/{n}") for n in range(HOSTILE_BOMBS)]
    config = tmp_path / "config.yml"
    config.write_text(
        f"global: {{max_concurrent_targets: 64, max_in_flight_bytes: {FILLED_BUDGET}}}\n"
        f"vsxi:\n- {{name: sbc-ok, url: '{healthy.url}', username: monitor, password: {PASSWORD}, "
        f"interval: 30s, timeout: 20s}}\n" + "".join(
            f"- {{name: {name}, url: '{url}', username: monitor, password: p, interval: 30s, timeout: 20s, "
            f"max_response_bytes: {4 * MiB}, collectors: [sub_stats]}}\n" for name, url in hostile))
    log = tmp_path / "exporter.log"  # a file, not a pipe: 48 failing targets log more than a pipe holds
    with open(log, "wb") as sink:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "exporter", "--config.file",
                                                    str(config), "--web.listen-address", "127.0.0.1:0",
                                                    stderr=sink)
    loop = asyncio.get_running_loop()
    peak_main = peak_total = base_main = base_total = peak_worker = 0.0
    budget_mb = FILLED_BUDGET / 1e6
    try:
        address = None
        async with aiohttp.ClientSession() as session:
            async def scrape() -> str:
                async with session.get(f"{address}/metrics") as resp:
                    return await resp.text()

            async def until(check, what: str, timeout: float = 90) -> str:
                nonlocal peak_main, peak_total, peak_worker
                deadline = loop.time() + timeout
                while True:
                    main, total, worker = tree_rss_mb(proc.pid)
                    peak_main, peak_total, peak_worker = max(peak_main, main), max(peak_total, total), max(
                        peak_worker, worker)
                    text = await scrape()
                    if check(text):
                        return text
                    assert loop.time() < deadline, f"timed out waiting for {what}"
                    await asyncio.sleep(0.05)

            address = await _listening(proc, log)
            await until(lambda t: sample(t, "vsxi_up", target="sbc-ok") == 1, "the healthy SBC")
            base_main, base_total, _ = tree_rss_mb(proc.pid)
            peak_main = peak_total = peak_worker = 0.0
            gate.set()
            await until(lambda t: sample(t, "vsxi_xivo_exporter_in_flight_peak_bytes") >= FILLED_BUDGET - MiB,
                        "the budget to fill")
            release.set()  # the bodies go on: each hostile table now fails (too_large, or memory_budget)
            # The round is over when every hostile table has failed (counted) and every byte is back.
            text = await until(lambda t: all(errors(t, name) >= 1 for name, _ in hostile)
                               and sample(t, "vsxi_xivo_exporter_in_flight_bytes") == 0,
                               "every hostile table to fail and its bytes to be given back")
    finally:
        gate.set()
        release.set()
        proc.terminate()
        await proc.wait()
    print(f"exporter: base {base_main:.0f} MB, peak {peak_main:.0f} MB (bound {base_main + budget_mb + MARGIN_MB:.0f});"
          f" largest parse worker {peak_worker:.0f} MB (bound {WORKER_MB}); the tree: base {base_total:.0f} MB, "
          f"peak {peak_total:.0f} MB; budget {budget_mb:.0f} MB, full")
    assert sample(text, "vsxi_xivo_exporter_in_flight_limit_bytes") == FILLED_BUDGET
    assert peak_main <= base_main + budget_mb + MARGIN_MB, f"exporter: {peak_main:.0f} MB"
    assert peak_worker <= WORKER_MB, f"a parse worker: {peak_worker:.0f} MB"
    assert sample(text, "vsxi_up", target="sbc-ok") == 1
    for name, _ in hostile:
        assert sample(text, "vsxi_up", target=name) == 0, name


def errors(text: str, target: str) -> float:
    """Failed polls of ``target``, whatever the reason (too_large, memory_budget, ...)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vsxi_xivo_exporter_poll_errors_total{") and f'target="{target}"' in line)


async def _listening(proc, log) -> str:
    """The address the exporter logged it listens on (it bound port 0: the kernel chose the port)."""
    import re

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not (m := re.search(r"msg=listening address=(http://\S+)", log.read_text())):
        assert proc.returncode is None and loop.time() < deadline, log.read_text()[-2000:]
        await asyncio.sleep(0.02)
    return m.group(1)


async def test_a_poller_never_waits_for_the_budget_while_holding_part_of_it(aiohttp_server):
    """A round holds the answers it read whole until it ends, when they are parsed together. With a budget
    that holds two answers, eight devices polled at once: a poller about to wait for the budget first parses
    what it holds and gives it back, so no poller waits for another that waits for it. Every round completes,
    every table succeeds, no more than the budget is ever held and all of it is given back. (Waiting while
    holding, the first round never ends.)"""
    from exporter.simulator.vsxi_render import render

    tables = ("realtime", "resource", "media_server")
    devices = [await make_target(aiohttp_server, name=f"sbc-{n}", collectors=tables) for n in range(8)]
    largest = max(len(render(devices[0][0].model.answer(t), "xml", "old")) for t in tables)
    budget = 2 * largest + largest // 2
    engine = make_engine(*(target for _, target in devices))
    engine.config = type(engine.config)(path="test", targets=engine.config.targets, max_in_flight_bytes=budget)
    await engine.workers.start()
    try:
        for _ in range(2):
            await asyncio.wait_for(engine.poll_once(), 30)
            for _, target in devices:
                state = engine.states[target.name]
                assert state.up and [c.collector for c in state.collectors.values() if c.success] == list(tables)
    finally:
        await engine.stop()
    assert largest < engine.budget.high_water <= budget and engine.budget.used == 0


async def test_a_round_cancelled_mid_way_gives_back_the_answers_it_held(aiohttp_server):
    """A round stopped between two tables (a reload, a shutdown) gives back the bytes of the answers it held
    for its parse: the budget is whole again."""
    _, target = await make_target(aiohttp_server, collectors=("realtime", "resource"))
    engine = make_engine(target)
    engine.config = type(engine.config)(path="test", targets=engine.config.targets, max_in_flight_bytes=8 * MiB)
    try:
        engine._build_pollers()  # noqa: SLF001 - one round, driven by the test
        poller = engine.pollers["sbc-1"]
        entered, _ = hold_table(poller, "resource")  # never released: the round is cancelled
        round_task = asyncio.create_task(poller.poll_round())
        await asyncio.wait_for(entered.wait(), 10)
        assert engine.budget.used > 1000  # the realtime answer, held for the round's parse
        round_task.cancel()
        await asyncio.gather(round_task, return_exceptions=True)
        assert engine.budget.used == 0 and not poller.held.pending
    finally:
        await engine.stop()


async def test_answers_held_for_rounds_are_bounded_for_the_process(aiohttp_server, monkeypatch):
    """Answers read whole wait for their round's end while the process holds less than ROUND_HOLD_BYTES of
    them; beyond, a poller parses what it holds at once (a fleet that starts together would otherwise hold a
    round of answers per target). Here the bound is below one answer: the first table is parsed, and its bytes
    given back, before the second is asked for."""
    from exporter.polling import handoff as poller_module

    _, target = await make_target(aiohttp_server, collectors=("realtime", "resource"))
    engine = make_engine(target)
    engine._build_pollers()  # noqa: SLF001 - one round, driven by the test
    poller = engine.pollers["sbc-1"]
    entered, release = hold_table(poller, "resource")
    try:
        for bound, parsed_before_the_second in ((poller_module.ROUND_HOLD_BYTES, False), (100, True)):
            monkeypatch.setattr(poller_module, "ROUND_HOLD_BYTES", bound)
            entered.clear()
            release.clear()
            round_task = asyncio.create_task(poller.poll_round())
            await asyncio.wait_for(entered.wait(), 10)
            held = [f.collector for f in poller.held.pending]
            if parsed_before_the_second:
                assert held == [] and engine.budget.used == 0 and engine.budget.round_held == 0
            else:
                assert held == ["realtime"] and engine.budget.round_held == engine.budget.used > 1000
            release.set()
            await asyncio.wait_for(round_task, 10)
            assert all(c.success for c in poller.collectors.values()) and engine.budget.used == 0
            assert engine.budget.round_held == 0
    finally:
        await engine.stop()

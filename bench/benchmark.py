"""Benchmark: big tables, event-loop stalls, scrape latency during a poll, exposition size and encode time.

    python bench/benchmark.py [--registrations 100000] [--calls 20000] [--targets 100]

Prints its figures; targets (checked here, not in unit tests): while the exporter fetches and parses
100k registrations and 20k calls, the event loop never stalls more than 100 ms and a /metrics scrape
answers within 250 ms; parsing memory stays bounded (no tree of the whole answer). Fleets: bench/fleet.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
import tracemalloc

import aiohttp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from exporter.catalog import Builder  # noqa: E402
from exporter.config import Config  # noqa: E402
from exporter.engine import Engine  # noqa: E402
from exporter.simulator.vsxi_model import Scale, VsxiModel  # noqa: E402
from exporter.simulator.vsxi_render import render  # noqa: E402
from exporter.vsxi.collectors import COLLECTORS  # noqa: E402
from exporter.vsxi.config import VsxiTarget  # noqa: E402
from exporter.web.app import create_app  # noqa: E402

TARGET_STALL_MS = 100
TARGET_SCRAPE_MS = 250


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_figures(registrations: int, calls: int) -> None:
    model = VsxiModel(Scale(trunks=200, registrations=registrations, calls=calls, media_servers=10),
                      clock=lambda: 1_800_000_000.0)
    print(f"\n== pure parse ({registrations} registrations, {calls} calls) ==")
    for table in ("sub_stats", "active_calls"):
        for fmt in ("xml", "json"):
            body = render(model.answer(table), fmt)
            t0 = time.perf_counter()
            COLLECTORS[table].parse(body)
            elapsed = time.perf_counter() - t0
            tracemalloc.start()  # a second run for memory: tracemalloc slows parsing several times
            COLLECTORS[table].parse(body)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{table:13s} {fmt:4s} body {len(body) / 1e6:6.1f} MB  parse {elapsed * 1000:7.0f} ms  "
                  f"peak extra memory {peak / 1e6:6.1f} MB ({peak / len(body):.2f} x body)")


async def loop_and_scrape_figures(registrations: int, calls: int) -> bool:
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "exporter.simulator", "--port", str(port), "--registrations",
                            str(registrations), "--calls", str(calls), "--trunks", "200"],
                           stdout=subprocess.PIPE, text=True)
    sim.stdout.readline()
    ok = True
    try:
        print("\n== one poll round against a simulator in another process ==")
        for fmt in ("xml", "json"):
            target = VsxiTarget(name="big", url=f"http://127.0.0.1:{port}", username="monitor", password="secret",
                                format=fmt, interval=60.0, timeout=30.0,
                                collectors=("realtime", "sub_stats", "active_calls"))
            engine = Engine(Config(path="bench", targets=(target,)))
            await engine.workers.start()  # as Engine.start() does
            runner = aiohttp.web.AppRunner(create_app(engine, manage_engine=False))
            await runner.setup()
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/metrics"
            stalls, scrapes = [], []
            done = asyncio.Event()

            async def ticker(done=done, stalls=stalls):
                while not done.is_set():
                    t0 = time.perf_counter()
                    await asyncio.sleep(0.005)
                    stalls.append(time.perf_counter() - t0 - 0.005)

            async def scraper(session, done=done, scrapes=scrapes, url=url):
                while not done.is_set():
                    t0 = time.perf_counter()
                    async with session.get(url) as resp:
                        await resp.read()
                    scrapes.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.05)

            async with aiohttp.ClientSession() as session:
                tasks = [asyncio.create_task(ticker()), asyncio.create_task(scraper(session))]
                t0 = time.perf_counter()
                await engine.poll_once()
                elapsed = time.perf_counter() - t0
                done.set()
                await asyncio.gather(*tasks)
            state = engine.states["big"]
            assert all(c.success for c in state.collectors.values()), state
            stall, scrape = max(stalls) * 1000, max(scrapes) * 1000
            print(f"{fmt:4s} round {elapsed:5.2f} s  max event-loop stall {stall:5.1f} ms (target < "
                  f"{TARGET_STALL_MS})  scrapes during the round {len(scrapes):3d}, slowest {scrape:5.1f} ms "
                  f"(target < {TARGET_SCRAPE_MS})")
            ok &= stall < TARGET_STALL_MS and scrape < TARGET_SCRAPE_MS
            await runner.cleanup()
            await engine.stop()
    finally:
        sim.terminate()
        sim.wait()
    return ok


def exposition_figures(targets: int) -> None:
    """prometheus-client's encoder against the purpose-built renderer, on the same samples: same bytes."""
    from prometheus_client import CollectorRegistry, generate_latest

    from exporter.catalog import merge
    from exporter.exposition import join

    model = VsxiModel(Scale(trunks=50, registrations=2000, calls=500, media_servers=4),
                      clock=lambda: 1_800_000_000.0)
    builders = []
    for i in range(targets):
        b = Builder()
        for table in ("realtime", "resource", "media_server", "sub_stats", "active_calls", "sip_stats"):
            COLLECTORS[table].build(b, f"sbc-{i:03d}", COLLECTORS[table].parse(render(model.answer(table), "xml")))
        builders.append(b)

    class Fams:
        def collect(self):
            families = merge(b.families() for b in builders)
            order = {spec.family: spec.index for spec in builders[0]._order}  # noqa: SLF001
            return sorted(families, key=lambda f: order[f.name])

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fams())
    t0 = time.perf_counter()
    reference = generate_latest(registry)
    client = time.perf_counter() - t0
    t0 = time.perf_counter()
    chunks = [b.chunk() for b in builders]  # done once per poll, in the parse worker
    rendered = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = join(chunks, openmetrics=False).text()  # done per scrape (inflated: the plain-text answer)
    joined = time.perf_counter() - t0
    assert ours == reference, "the renderer must write prometheus-client's bytes"
    samples = sum(1 for line in ours.splitlines() if line and not line.startswith(b"#"))
    print(f"\n== exposition of {targets} SBCs (50 trunks each): {samples} samples, {len(ours) / 1e6:.1f} MB ==")
    print(f"prometheus-client merge + encode {client * 1000:6.0f} ms ({client / samples * 1e6:.1f} us/sample)")
    print(f"purpose-built: render {rendered * 1000:6.0f} ms once per poll ({rendered / samples * 1e6:.1f} us/sample), "
          f"join per scrape {joined * 1000:.0f} ms; identical bytes")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--registrations", type=int, default=100_000)
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--targets", type=int, default=100)
    a = p.parse_args()
    parse_figures(a.registrations, a.calls)
    ok = asyncio.run(loop_and_scrape_figures(a.registrations, a.calls))
    exposition_figures(a.targets)
    print(f"\nmax RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

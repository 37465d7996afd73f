"""Soak: 50 simulated SBCs whose faults toggle, polled every second, for a bounded time; fails on a leak.

    python bench/soak.py [--minutes 30] [--devices 50] [--interval 1]

Runs the exporter as its own process against simulators in this one (`exporter.simulator`), flips each
device between healthy and one of the faults the simulator knows (statuses, degenerate and truncated bodies,
resets, hangs, latency) every few seconds, scrapes /metrics and /probe as Prometheus would, and samples the
exporter's RSS (worker processes included), open file descriptors and asyncio tasks
(`vsxi_xivo_exporter_asyncio_tasks`). It prints each figure's growth per hour, fitted over the second half
of the run (after warm-up), and exits 1 when one grows past its limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from fleet import rss_mb, tree  # noqa: E402

from exporter.simulator.vsxi_app import VsxiSimulator, start_simulator  # noqa: E402
from exporter.simulator.vsxi_model import Scale  # noqa: E402

LIMITS = {"RSS (MB)": 20.0, "open fds": 10.0, "asyncio tasks": 10.0}  # growth per hour, after warm-up
FAULTS = [{"status": 500}, {"status": 401}, {"status": 402}, {"status": 503}, {"body": "html"},
          {"body": "truncated"}, {"body": "empty_object"}, {"body": "reset"}, {"body": "hang"},
          {"latency": 0.3}, {"tables": {"sub_stats": "truncated", "realtime": "status:500"}}]
_TASKS = re.compile(rb"^vsxi_xivo_exporter_asyncio_tasks (\S+)$", re.M)


def fds(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return total


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 3600


async def soak(minutes: float, devices: int, interval: float) -> int:
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # the simulated resets, on purpose
    sims, runners, lines = [], [], ["vsxi:"]
    for i in range(devices):
        sim = VsxiSimulator(username="monitor", password="soak", layout=("old", "new")[i % 2],
                            scale=Scale(trunks=5, registrations=50, calls=20))
        runner, url = await start_simulator(sim)
        sims.append(sim)
        runners.append(runner)
        lines += [f"  - name: sbc-{i:02d}", f"    url: {url}", "    username: monitor", "    password: soak",
                  f"    format: {('xml', 'json')[i % 2]}", f"    interval: {interval:g}s",
                  f"    timeout: {interval:g}s"]
    config = os.path.join(tempfile.mkdtemp(prefix="soak-"), "config.yml")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "exporter", "--config.file", config, "--web.listen-address",
                             f"127.0.0.1:{port}", "--log.level", "error"])
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in LIMITS}
    scrapes = failed_scrapes = flips = 0
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                await asyncio.sleep(0.2)
                try:
                    async with session.get(base + "/-/ready") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
            started = time.monotonic()
            next_sample = started
            while time.monotonic() - started < minutes * 60:
                if proc.poll() is not None:
                    print(f"the exporter exited with {proc.returncode}")
                    return 1
                for sim in random.sample(sims, max(1, devices // 10)):  # ~10% of the fleet changes state
                    sim.faults.update({"latency": 0.0, "status": None, "body": None, "tables": {}})
                    if random.random() < 0.5:
                        sim.faults.update(random.choice(FAULTS))
                    flips += 1
                metrics = b""
                for path in ("/metrics", f"/probe?target=sbc-{random.randrange(devices):02d}"):
                    try:
                        async with session.get(base + path, timeout=aiohttp.ClientTimeout(total=10)) as r:
                            body = await r.read()
                            scrapes += 1
                            failed_scrapes += r.status != 200
                    except (TimeoutError, aiohttp.ClientError):
                        failed_scrapes += 1
                        body = b""
                    metrics = metrics or body
                now = time.monotonic()
                if now >= next_sample:
                    tasks = _TASKS.search(metrics)
                    elapsed = now - started
                    samples["RSS (MB)"].append((elapsed, rss_mb(proc.pid)))
                    samples["open fds"].append((elapsed, fds(proc.pid)))
                    if tasks:
                        samples["asyncio tasks"].append((elapsed, float(tasks.group(1))))
                    next_sample = now + 10
                await asyncio.sleep(2)
    finally:
        proc.terminate()
        proc.wait(15)
        for sim in sims:  # handlers still "hanging" would hold the clean-up
            sim.faults.update({"latency": 0.0, "status": None, "body": None, "tables": {}})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(r.cleanup() for r in runners)), 5)
    ok = failed_scrapes == 0
    print(f"soak: {devices} SBCs, interval {interval:g}s, {minutes:g} min, {flips} fault changes, {scrapes} scrapes "
          f"({failed_scrapes} failed)")
    for name, points in samples.items():
        second_half = [p for p in points if p[0] >= points[-1][0] / 2] if points else []
        growth = slope_per_hour(second_half) if len(second_half) >= 3 else float("nan")
        limit = LIMITS[name]
        verdict = "too short to judge" if growth != growth else ("ok" if growth <= limit else "LEAK?")
        ok &= not growth > limit
        first, last = (points[0][1], points[-1][1]) if points else (float("nan"),) * 2
        print(f"{name:14s} start {first:8.1f}  end {last:8.1f}  growth {growth:+8.1f}/h over the second half "
              f"(limit {limit:g}/h) {verdict}")
    print("no leak" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--devices", type=int, default=50)
    p.add_argument("--interval", type=float, default=1.0)
    a = p.parse_args()
    return asyncio.run(soak(a.minutes, a.devices, a.interval))


if __name__ == "__main__":
    sys.exit(main())

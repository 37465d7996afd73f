"""The main process's share of polling a fleet, measured quickly, with an optional profile of where it goes.

    python bench/mainloop.py [--devices 1000] [--pairs 7]                       # alternating (default)
    python bench/mainloop.py --paced [--window 30] [--warmup 35] [--profile cpu|wall] [--top 40]

Starts ``bench/devices.py`` and runs the exporter's Engine in this process (parse workers as in production, no
web server) on ``--devices`` SBCs. The parse workers' CPU is left out: this is the figure of the issue "Fleet
CPU, restated" (main process <= 1.2x the floor), in a minute or two instead of bench/fleet.py's five.

* alternating (default): ``--pairs`` times, one round of the floor (bench/fleet.py's: a bare aiohttp GET +
  parse of the same answers, 16 devices at a time, sessions kept open) then one round of every target
  (``Engine.poll_once``: as fast as the limits allow), this process's CPU measured for each; the median of the
  pairs' ratios. Both in bursts: the cost of the exporter's own work per poll, without its pacing.
* ``--paced``: the pollers on their 30 s schedule as in production (rounds spread over the interval, one
  event-loop wake-up per request), measured over ``--window`` seconds after ``--warmup``, beside a floor
  measured just before. With ``--profile``, cProfile runs over the window (its own overhead inflates the
  absolute figure; read the shares) with a CPU clock (``cpu``) or the wall clock.

On a shared machine whose speed drifts by up to 2x from one minute to the next, compare two checkouts by
running them at the same time (two processes, each with its own device fleet), not one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from devices import variant  # noqa: E402
from fleet import (  # noqa: E402
    BurstFloor,
    device_url,
    measure_floor,
    paced_floor_result,
    start_devices,
    start_paced_floor,
)

INTERVAL = 30.0


def fleet_engine(port: int, devices: int):
    """An Engine polling the bench fleet as bench/fleet.py's exporter does (30 s, each device's format)."""
    from exporter.config import Config
    from exporter.engine import Engine
    from exporter.vsxi.config import VsxiTarget

    targets = tuple(VsxiTarget(name=f"sbc-{i:04d}", url=device_url(port, i), username="bench", password="bench",
                               format=variant(i)[0], interval=INTERVAL, timeout=10.0) for i in range(devices))
    return Engine(Config(path="bench", targets=targets))


async def measure(port: int, devices: int, warmup: float, window: float, profile: str | None):
    from exporter.cli import GC_THRESHOLDS

    engine = fleet_engine(port, devices)
    await engine.start()
    gc.freeze()  # as the exporter does once it serves (exporter.cli)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        await asyncio.sleep(warmup)
        profiler = None
        if profile:
            profiler = cProfile.Profile(time.process_time) if profile == "cpu" else cProfile.Profile()
        rounds0 = sum(s.rounds for s in engine.states.values())
        c0 = time.process_time()
        if profiler:
            profiler.enable()
        await asyncio.sleep(window)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - c0
        rounds = sum(s.rounds for s in engine.states.values()) - rounds0
        failed = sum(not c.success for s in engine.states.values() for c in s.collectors.values())
    finally:
        await engine.stop()
    return cpu, rounds, failed, profiler


async def alternate(port: int, devices: int, pairs: int) -> tuple[list[float], list[float], int]:
    """(floor CPU per device round, exporter CPU per device round) of each pair, and collectors failing."""
    from exporter.cli import GC_THRESHOLDS

    fleet = [(i, variant(i)[0]) for i in range(devices)]
    floor = BurstFloor(port, fleet)
    engine = fleet_engine(port, devices)
    await engine.workers.start()
    try:
        await floor.round()  # connections opened, caches warm
        await engine.poll_once()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        floors, exporters = [], []
        for _ in range(pairs):
            c0 = time.process_time()
            await floor.round()
            c1 = time.process_time()
            await engine.poll_once()
            c2 = time.process_time()
            floors.append((c1 - c0) / devices)
            exporters.append((c2 - c1) / devices)
        failed = sum(not c.success for s in engine.states.values() for c in s.collectors.values())
    finally:
        await engine.stop()
        await floor.close()
    return floors, exporters, failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--pairs", type=int, default=7)
    p.add_argument("--paced", action="store_true")
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=35.0)
    p.add_argument("--profile", choices=("cpu", "wall"))
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    devices_proc, port = start_devices(20)
    if not args.paced:
        try:
            floors, exporters, failed = asyncio.run(alternate(port, args.devices, args.pairs))
        finally:
            devices_proc.terminate()
        ratios = sorted(e / f for f, e in zip(floors, exporters, strict=True))
        print(f"{args.devices} SBCs, {args.pairs} pairs of rounds ({failed} collectors failing)")
        print("floor ms/device round    " + " ".join(f"{f * 1e3:5.2f}" for f in floors))
        print("exporter ms/device round " + " ".join(f"{e * 1e3:5.2f}" for e in exporters))
        print(f"exporter main process / floor: median {statistics.median(ratios):.2f} x "
              f"(pairs {' '.join(f'{r:.2f}' for r in ratios)})")
        return 0
    try:
        floor = measure_floor(port, args.devices, 2)
        # The paced floor polls the same fleet at the same time, in a process of its own: the same window of a
        # drifting machine for both.
        paced = start_paced_floor(port, args.devices, INTERVAL, args.warmup, args.window)
        cpu, rounds, failed, profiler = asyncio.run(measure(port, args.devices, args.warmup, args.window,
                                                            args.profile))
        paced_floor_cpu = paced_floor_result(paced)
    finally:
        devices_proc.terminate()
    per_round = cpu / max(rounds, 1)
    print(f"{args.devices} SBCs, {rounds} device rounds in {args.window:g} s ({failed} collectors failing)")
    print(f"floor (GET + bare parse)   {floor * 1e3:.2f} ms per device round, 16 devices at a time; "
          f"{paced_floor_cpu * 1e3:.2f} ms paced as the exporter polls (same window)")
    print(f"exporter main process      {per_round * 1e3:.2f} ms per device round = {per_round / floor:.2f} x floor, "
          f"{per_round / paced_floor_cpu:.2f} x the paced floor{' (profiled: read the shares)' if profiler else ''}")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The main process's share of polling a fleet, measured quickly, with an optional profile of where it goes.

    python bench/mainloop.py [--devices 1000] [--window 30] [--warmup 35] [--profile cpu|wall] [--top 40]

Starts ``bench/devices.py``, runs the exporter's Engine in this process (parse workers as in production, no
web server) on ``--devices`` SBCs polled every 30 s, and after ``--warmup`` seconds (rounds spread over the
interval) measures this process's CPU over ``--window`` seconds: milliseconds per device round, beside the
floor measured in the same run (bench/fleet.py's: a bare aiohttp GET + parse of the same answers). The parse
workers' CPU is left out: this is the figure of the issue "Fleet CPU, restated" (main process <= 1.2x the
floor), in a minute instead of bench/fleet.py's five. With ``--profile``, cProfile runs over the window (its
own overhead inflates the absolute figure; read the shares) with a CPU clock (``cpu``) or the wall clock.

Run two checkouts one after the other to compare a change (absolute times drift on shared machines: run
each twice, alternating, and read the ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from devices import variant  # noqa: E402
from fleet import device_url, measure_floor, start_devices  # noqa: E402

INTERVAL = 30.0


async def measure(port: int, devices: int, warmup: float, window: float, profile: str | None):
    from exporter.cli import GC_THRESHOLDS
    from exporter.config import Config
    from exporter.engine.engine import Engine
    from exporter.vsxi.config import VsxiTarget

    targets = tuple(VsxiTarget(name=f"sbc-{i:04d}", url=device_url(port, i), username="bench", password="bench",
                               format=variant(i)[0], interval=INTERVAL, timeout=10.0) for i in range(devices))
    engine = Engine(Config(path="bench", targets=targets))
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=35.0)
    p.add_argument("--profile", choices=("cpu", "wall"))
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    devices_proc, port = start_devices(20)
    try:
        floor = measure_floor(port, args.devices, 2)
        cpu, rounds, failed, profiler = asyncio.run(measure(port, args.devices, args.warmup, args.window,
                                                            args.profile))
    finally:
        devices_proc.terminate()
    per_round = cpu / max(rounds, 1)
    print(f"{args.devices} SBCs, {rounds} device rounds in {args.window:g} s ({failed} collectors failing)")
    print(f"floor (GET + bare parse)   {floor * 1e3:.2f} ms per device round")
    print(f"exporter main process      {per_round * 1e3:.2f} ms per device round = {per_round / floor:.2f} x floor"
          f"{' (profiled: read the shares)' if profiler else ''}")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

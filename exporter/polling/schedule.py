"""When a target's rounds and requests run: a fixed period per target, and wake-ups on a grid.

Wake-ups on a grid: a round starts on the next round-slot boundary after its phase, a request gap ends on the
next wake-grid boundary. The targets sharing a slot then move in step: their requests, answers and gaps wake
the event loop together, and one wake-up serves many of them. Waking once per request cost the main process
15-35% more CPU at 1,000 SBCs (bench/mainloop.py --paced, two checkouts side by side: 5.5-6.1 ms per device
round without, 4.7-5.1 ms with 0.25 s / 10 ms, 3.5-3.8 ms with 1 s / 25 ms; more targets per slot, longer
bursts for a scrape to wait behind). A device still sees one request at a time, each gap 50-70 ms.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import zlib
from collections.abc import Awaitable, Callable

logger = logging.getLogger("exporter.poller")

REQUEST_GAP = 0.05  # seconds between two requests to one device
ROUND_SLOT = 0.5  # seconds (wake_grids: at most 1/20 of the target's interval)
WAKE_GRID = 0.02  # seconds (wake_grids: at most 1/100 of the target's interval)


def on_grid(when: float, grid: float) -> float:
    """The first multiple of ``grid`` at or after ``when`` (loop time)."""
    return math.ceil(when / grid) * grid


def wake_grids(interval: float) -> tuple[float, float]:
    """(round slot, request-gap grid) for a target polled every ``interval`` seconds: the constants above,
    smaller for short intervals (at most 1/20 and 1/100 of it)."""
    return min(ROUND_SLOT, interval / 20), min(WAKE_GRID, interval / 100)


async def gap(grid: float) -> None:
    """The pause between two requests to one device, ending on the request-gap grid."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(on_grid(loop.time() + REQUEST_GAP, grid) - loop.time())


async def every_interval(name: str, interval: float, slot: float, poll_round: Callable[[], Awaitable[None]]) -> None:
    """Run ``poll_round`` on a fixed period, for ever. The first round starts at once (readiness); the second
    at a phase stable for this target within the interval (a hash of its name, as Prometheus spreads scrape
    targets); later ones exactly one interval apart. A fleet's rounds stay spread over the interval, and each
    collector is refreshed every interval, never drifting later round after round."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(random.uniform(0, min(1.0, interval / 10)))
    start = loop.time()
    phase = zlib.crc32(name.encode()) / 2**32  # 0 <= phase < 1
    next_start = start + interval * (0.5 + phase)
    while True:
        try:
            await poll_round()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not kill the poller for good
            logger.exception("poll round crashed", extra={"fields": {"target": name}})
        now = loop.time()
        while next_start <= now:  # a round that overran its slot skips it, never bunches up
            next_start += interval
        await asyncio.sleep(on_grid(next_start, slot) - now)  # the period itself stays exact: no drift
        next_start += interval

"""Name resolution for the device clients: in the exporter's own threads, fair between healthy and dead devices.

aiohttp resolves a name with ``getaddrinfo`` in the event loop's default thread pool (6 threads on a 2-core
machine), which the exporter also uses to prepare ``/metrics``. On the day a site's names stop resolving, or
its DNS server stops answering, every lookup holds a thread for seconds: with 300 such devices the pool was
full of them, ``/metrics`` waited behind them and its scrapes timed out (bench/fleet.py --dead-mode dns), and
the healthy devices' own lookups waited too, until their connect timeout. So:

* lookups run in pools of their own: ``HEALTHY_THREADS`` for targets in good standing, ``SUSPECT_THREADS`` for
  targets whose last round had no answer at all (``exporter.slots``), so a lost site's names delay neither
  the healthy devices' lookups nor the exporter's own work;
* a name that does not resolve is not asked again for ``NEGATIVE_TTL`` seconds (as a caching resolver keeps a
  negative answer), and a name is looked up once at a time however many targets wait for it: a lost site costs
  its DNS server one lookup per name per 30 s at most, and a lookup that outlives its caller's connect timeout
  still counts.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp.resolver import ThreadedResolver

from exporter import slots

HEALTHY_THREADS = 8
SUSPECT_THREADS = 2
NEGATIVE_TTL = 30.0  # seconds a failed lookup is remembered
NEGATIVE_MAX = 10_000  # names remembered at most (a fleet's worth)

_pools: dict[bool, ThreadPoolExecutor] = {}
_failed: dict[tuple, tuple[float, socket.gaierror]] = {}  # (host, port, family) -> (until, the error)
_inflight: dict[tuple, asyncio.Future] = {}  # lookups running, by (event loop, host, port, family)


def _pool(suspect: bool) -> ThreadPoolExecutor:
    pool = _pools.get(suspect)
    if pool is None:
        pool = _pools[suspect] = ThreadPoolExecutor(
            SUSPECT_THREADS if suspect else HEALTHY_THREADS,
            thread_name_prefix="dns-suspect" if suspect else "dns")
    return pool


class _Lookups:
    """What ThreadedResolver asks of its event loop (``getaddrinfo``, ``getnameinfo``), run in the pool of the
    current poll's standing, with failures remembered."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        key = (host, port, family)
        running = (self.loop, *key)
        failed = _failed.get(key)
        if failed is not None:
            if time.monotonic() < failed[0]:
                raise failed[1]
            del _failed[key]
        lookup = _inflight.get(running)
        if lookup is None:  # one lookup of a name at a time, however many targets wait for it
            call = functools.partial(socket.getaddrinfo, host, port, family, type, proto, flags)
            lookup = _inflight[running] = asyncio.wrap_future(_pool(slots.suspect()).submit(call), loop=self.loop)
            lookup.add_done_callback(functools.partial(_done, running))
        return await asyncio.shield(lookup)  # a caller that gives up (connect_timeout) leaves it to finish

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.loop.run_in_executor(_pool(slots.suspect()), socket.getnameinfo, sockaddr, flags)


def _done(running: tuple, lookup: asyncio.Future) -> None:
    """A lookup ended, perhaps after every caller gave up on it: a name that does not resolve is remembered."""
    _inflight.pop(running, None)
    key = running[1:]
    error = None if lookup.cancelled() else lookup.exception()
    if isinstance(error, socket.gaierror):
        if len(_failed) >= NEGATIVE_MAX:
            _failed.pop(next(iter(_failed)))
        _failed[key] = (time.monotonic() + NEGATIVE_TTL, error)


class Resolver(ThreadedResolver):
    """aiohttp's threaded resolver (same answers, IPv6 scopes included), on the exporter's own pools."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = _Lookups(asyncio.get_running_loop())  # type: ignore[assignment]

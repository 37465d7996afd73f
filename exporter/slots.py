"""The process-wide slots for answers being read (``global.max_concurrent_targets``), handed out fairly.

A poll takes a slot when its answer starts to arrive (the response's status line and headers are in) and
gives it back when the body is read whole (or, for an answer streamed to a parser, when the parser is done).
Everything before the first byte holds no slot: resolving the name, connecting, the TLS handshake, sending the
request and waiting for the device to answer. A device that never answers, never completes a handshake,
refuses or does not resolve therefore costs no slot at all, whatever its timeout: on the day a site is lost,
its devices wait on their own sockets and the healthy ones keep their schedule.

What a slot still bounds is the answers in the exporter's hands at once (their bytes are counted in
``exporter.budget`` besides). The one way a broken device can hold a slot is to send headers and then trickle
its body; for that, the pool is fair:

* a target whose last request failed without an answer (timeout, connection, TLS) is *suspect* and may hold at
  most ``limit - reserve`` slots between all suspects: the other ``reserve`` are kept for targets in good
  standing, so a healthy device always finds a slot within moments;
* when a slot frees, a waiting target in good standing gets it before any suspect.

Each wait is observed in ``vsxi_xivo_exporter_slot_wait_seconds{family}`` (the exporter-health dashboard
shows it): near zero on a healthy day, and it stays there during an outage.

The poll that reads owns the claim (``Claim``, set in a context variable by the poller, as the byte budget's
reservation is), so the family clients call ``take()`` with no extra argument.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def reserve_for(limit: int) -> int:
    """Slots kept for targets in good standing: a quarter, at least one (none when there is a single slot:
    then suspects and healthy targets share it, good standing first)."""
    return max(1, limit // 4) if limit > 1 else 0


class SlotPool:
    def __init__(self, limit: int, reserve: int | None = None):
        self.limit = limit
        self.reserve = reserve_for(limit) if reserve is None else reserve
        self.held = 0
        self.held_suspect = 0
        self.high_water = 0  # the most slots ever held at once (tests, benchmarks)
        self._good: deque[asyncio.Future[None]] = deque()
        self._suspect: deque[asyncio.Future[None]] = deque()

    def _may_take(self, suspect: bool) -> bool:
        if self.held >= self.limit:
            return False
        if suspect:
            return not self._good and self.held_suspect < max(1, self.limit - self.reserve)
        return True

    def _grant(self, suspect: bool) -> None:
        self.held += 1
        self.held_suspect += suspect
        self.high_water = max(self.high_water, self.held)

    async def acquire(self, suspect: bool) -> None:
        queue = self._suspect if suspect else self._good
        if not queue and self._may_take(suspect):
            self._grant(suspect)
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter  # granted by _wake, the slot already counted
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(suspect)  # granted as we were cancelled: give it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self, suspect: bool) -> None:
        self.held -= 1
        self.held_suspect -= suspect
        self._wake()

    def _wake(self) -> None:
        """Grant freed slots: waiters in good standing first, then suspects within their share."""
        for queue, suspect in ((self._good, False), (self._suspect, True)):
            while queue and self._may_take(suspect):
                waiter = queue.popleft()
                if not waiter.done():
                    self._grant(suspect)
                    waiter.set_result(None)


class Claim:
    """One poll's right to a slot: taken when its answer starts (``take``), given back once (``release``)."""

    __slots__ = ("pool", "suspect", "observe", "held")

    def __init__(self, pool: SlotPool, suspect: bool, observe: Callable[[float], None] = lambda seconds: None):
        self.pool = pool
        self.suspect = suspect
        self.observe = observe  # the wait, in seconds (the family's slot-wait histogram)
        self.held = False

    async def take(self) -> None:
        if self.held:
            return
        t0 = time.monotonic()
        await self.pool.acquire(self.suspect)
        self.held = True
        self.observe(time.monotonic() - t0)

    def release(self) -> None:
        if self.held:
            self.held = False
            self.pool.release(self.suspect)


_current: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("slot_claim", default=None)


async def take() -> None:
    """Take the current poll's slot (no-op outside a poll, or when it already holds it)."""
    claim = _current.get()
    if claim is not None:
        await claim.take()


def release() -> None:
    """Give the current poll's slot back (no-op when it holds none)."""
    claim = _current.get()
    if claim is not None:
        claim.release()


@contextmanager
def claiming(claim: Claim) -> Iterator[Claim]:
    """The poll's claim for the code it runs; whatever it still holds is given back at the end."""
    token = _current.set(claim)
    try:
        yield claim
    finally:
        _current.reset(token)
        claim.release()

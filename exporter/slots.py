"""The process-wide slots (``global.max_concurrent_targets``): answers arriving and being read, handed out fairly.

A slot bounds what the exporter takes in at once: answers that have started to arrive sit in the HTTP client's
buffers, outside the byte budget (``exporter.budget``) until they are read, so a fleet whose requests all went
out at once would have all its answers land at once. So a request of a target in good standing takes a slot
before it is sent, as healthy devices answer within moments; but a device that has not started to answer
after ``GRACE`` seconds gives its slot back, and takes one again only when its answer starts (the response's
status line and headers are in). It is given back when the poll is done with the answer (read whole, and
handed to a parse worker when the round already holds enough; for an answer streamed to a parser, when the
parser is done), and while a read waits for the network between two pieces of the body. Bounding the
hand-offs matters as much as the reads: a fleet starting together handed over its answers all at once
without it, and the main process held 50 MB more of them queued for the parse workers.

So a device that never answers, never completes a handshake, refuses or does not resolve costs a slot for
``GRACE`` seconds at most, the first time; once it is *suspect* (its last round had no answer at all), its
requests go out without one. On the day a site is lost its devices wait on their own sockets, and the healthy
ones keep their schedule. The pool is fair besides:

* suspects may hold at most ``limit - reserve`` slots between them (a body trickling a byte a second is read
  with one, a moment per piece): the other ``reserve`` are kept for targets in good standing;
* when a slot frees, a waiting target in good standing gets it before any suspect, and an answer that has
  started to arrive before a request not yet sent (its bytes are in memory already).

Each wait is observed in ``vsxi_xivo_exporter_slot_wait_seconds{family}`` (the exporter-health dashboard
shows it): near zero on a healthy day, and it stays there during an outage.

The poll that reads owns the claim (``Claim``, set in a context variable by the poller, as the byte budget's
reservation is), so the family clients call ``begin()``, ``take()`` and ``release()`` with no extra argument.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Seconds a request of a target in good standing may hold its slot before its answer starts. It bounds what a
# device not yet known dead costs the others (its first round of an outage; a whole fleet at start-up): 16
# slots start at least 64 requests a second whatever their devices do (bench/fleet.py, every SBC dead: ready
# in 74 s with 1 s). A healthy device that answers later (a new TLS connection over a WAN) loses nothing but
# its place: its answer takes a slot when it starts, ahead of the requests not yet sent.
GRACE = 0.25


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

    async def acquire(self, suspect: bool, started: bool = False) -> None:
        """A slot; ``started``: for an answer that has started to arrive, ahead of the requests not yet sent (its
        bytes are already in memory, theirs are not)."""
        queue = self._suspect if suspect else self._good
        if not queue and self._may_take(suspect):
            self._grant(suspect)
            return
        waiter = asyncio.get_running_loop().create_future()
        if started:
            queue.appendleft(waiter)
        else:
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
    """One poll's right to a slot: taken to send a request (``begin``, for a moment) and when its answer starts
    or more of it comes (``take``); given back by ``release`` (or the moment's end), at the latest when the
    poll ends (``claiming``)."""

    __slots__ = ("pool", "suspect", "observe", "held", "_lapse")

    def __init__(self, pool: SlotPool, suspect: bool, observe: Callable[[float], None] = lambda seconds: None):
        self.pool = pool
        self.suspect = suspect
        self.observe = observe  # the wait, in seconds (the family's slot-wait histogram)
        self.held = False
        self._lapse: asyncio.TimerHandle | None = None  # gives the slot back if the answer has not started

    async def begin(self) -> None:
        """A request is about to be sent: a target in good standing takes a slot, for ``GRACE`` seconds at
        most unless its answer starts (``take``); a suspect sends it without one."""
        if self.suspect or self.held:
            return
        await self._acquire(started=False)
        self._lapse = asyncio.get_running_loop().call_later(GRACE, self.release)

    async def take(self) -> None:
        """The answer has started, or bytes of it have come: hold a slot to read them (ahead of the requests
        waiting to be sent)."""
        self._disarm()
        if not self.held:
            await self._acquire(started=True)

    async def _acquire(self, started: bool) -> None:
        t0 = time.monotonic()
        await self.pool.acquire(self.suspect, started)
        self.held = True
        self.observe(time.monotonic() - t0)

    def release(self) -> None:
        self._disarm()
        if self.held:
            self.held = False
            self.pool.release(self.suspect)

    def _disarm(self) -> None:
        if self._lapse is not None:
            self._lapse.cancel()
            self._lapse = None


_current: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("slot_claim", default=None)


def suspect() -> bool:
    """The current poll's target had no answer at all last round (False outside a poll)."""
    claim = _current.get()
    return claim is not None and claim.suspect


async def begin() -> None:
    """A request of the current poll is about to be sent (no-op outside a poll): see Claim.begin."""
    claim = _current.get()
    if claim is not None:
        await claim.begin()


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

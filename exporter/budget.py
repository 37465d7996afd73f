"""A process-wide budget of answer bytes in flight, so that memory is bounded for the exporter, not per answer.

Each answer may be up to ``max_response_bytes``, and up to ``max_concurrent_targets`` are read at once: a
fleet behind one bad proxy (endless bodies, gzip bombs) took the exporter from 46 MB to 1.4 GB. Every body
read now draws on this budget chunk by chunk, and gives its bytes back once the answer is parsed (or fails):
a reader that would go over waits for others to finish. One answer alone may use the whole budget (it is
still bounded by ``max_response_bytes``), so a large table never waits forever.

The poll that reads owns the reservation (``Reservation``, set in a context variable by the poller), so the
HTTP clients need no extra argument and every read of every family is counted.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager


class Exhausted(Exception):
    """The budget is full and this poll already holds part of it."""


class ByteBudget:
    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.high_water = 0  # the most ever held at once (tests, benchmarks)
        # Of ``used``: answers read whole and held until their round ends, to be parsed with the round's others
        # (exporter.polling.poller), bounded on its own so that a fleet starting at once does not hold a round of
        # answers per target.
        self.round_held = 0
        self._freed = asyncio.Event()

    def would_wait(self, n: int) -> bool:
        return bool(self.used) and self.used + n > self.limit

    async def take(self, n: int, may_wait: bool = True) -> None:
        while self.would_wait(n):
            if not may_wait:
                raise Exhausted(f"answers in flight already hold max_in_flight_bytes ({self.limit})")
            self._freed.clear()
            await self._freed.wait()  # every waiter wakes and checks again
        self.used += n
        self.high_water = max(self.high_water, self.used)

    def give(self, n: int) -> None:
        """Synchronous, so that a cancelled poll (reload, shutdown) still gives its bytes back."""
        if n:
            self.used -= n
            self._freed.set()


class Reservation:
    """The bytes one poll holds; all given back at once when the poll is done with its answer.

    ``before_wait``: what to do before this reservation's first bytes wait for the budget. A poller that holds
    answers of its round still to be parsed (exporter.polling.poller) parses them there and gives their bytes
    back: a poller never waits for the budget while holding part of it, so pollers cannot wait for each other."""

    def __init__(self, budget: ByteBudget, before_wait: Callable[[], Awaitable[None]] | None = None):
        self.budget = budget
        self.held = 0
        self.before_wait = before_wait

    async def take(self, n: int) -> None:
        if not self.held and self.before_wait is not None and self.budget.would_wait(n):
            await self.before_wait()
        await self.budget.take(n, may_wait=self.held == 0)
        self.held += n

    def give(self, n: int) -> None:
        """Part of it back early (a streamed chunk its parser has taken)."""
        self.held -= n
        self.budget.give(n)

    def release(self) -> None:
        held, self.held = self.held, 0
        self.budget.give(held)


_current: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar("reservation", default=None)


def current() -> Reservation | None:
    return _current.get()


@contextmanager
def holding(reservation: Reservation) -> Iterator[Reservation]:
    token = _current.set(reservation)
    try:
        yield reservation
    finally:
        _current.reset(token)

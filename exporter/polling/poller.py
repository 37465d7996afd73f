"""One background task per device: polls its collectors one at a time, every interval, and publishes a snapshot of
each round when it ends.

Protecting the device comes first: one request at a time, retries only for transient errors (400 from the
SBC, 5xx, timeouts) and only while the round's deadline allows, never after an authentication failure (a
storm of failed logins helps nobody and may lock the account), and a round stops at the first sign that the
device is unreachable or refusing us instead of sending it the remaining collectors.

A device that gives no answer at all (``FetchError.no_answer``: no connection, no name, nothing within the
timeout) costs one request per round: such a failure is retried only on a device that has answered something
else this round, and the round stops at it. So a dead device is asked one table a round,
is reported down when that request ends (within one interval plus one timeout), and is polled in full again
the first round it answers. Its standing (``suspect``) says that its requests wait without a slot
(``exporter.slots``): a dead device costs a slot for a moment the first round, none after.

Answers read whole wait for the end of their round and are parsed in one job (``_parse_pending``); the round
is published then, so the wait delays nothing a scrape shows.

``BasePoller`` is the family-independent part; each family's poller (``exporter/<family>/poller.py``) says how
one collector is fetched, which function parses it, and which failures stop a round. When rounds run is
``schedule``; answers held for the round's parse, ``handoff``; the collectors' records and what a round
publishes, ``records``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from exporter.budget import ByteBudget, Reservation, holding
from exporter.budget import current as current_reservation
from exporter.devicefamily import ParseResult
from exporter.httpclient import FetchError, StreamedBody
from exporter.logs import log
from exporter.payload import PayloadError
from exporter.polling.handoff import Fetched, HeldAnswers, answer_size
from exporter.polling.parsing import ParseWorkers
from exporter.polling.records import RoundRecords
from exporter.polling.schedule import every_interval, gap, wake_grids
from exporter.polling.state import CollectorState, TargetState
from exporter.polling.status import StatusSpecs
from exporter.selfmetrics import SelfMetrics
from exporter.slots import Claim, SlotPool, claiming
from exporter.slots import release as release_slot
from exporter.target import Target

logger = logging.getLogger("exporter.poller")

BACKOFF = (0.5, 1.0, 2.0)  # one entry per retry
MAX_BACKOFF = 600.0  # seconds: the longest Retry-After honoured


def _no_answer(error: FetchError | PayloadError) -> bool:
    """The device (or the service asked) gave no answer at all: nothing to retry this round."""
    return isinstance(error, FetchError) and error.no_answer


class BasePoller:
    family = ""  # the family's name: the `family` label of the exporter's own metrics
    status_specs: StatusSpecs  # the family's status series
    parse: Callable[..., ParseResult]  # (collector, target name, answer), run in a parse worker
    # The device cannot answer anything now.
    round_stoppers: frozenset[str] = frozenset({"connection", "connect_timeout", "dns", "tls"})
    auth_reasons: frozenset[str] = frozenset()  # we are not let in: the target is down, whatever else answered
    standby_reasons: frozenset[str] = frozenset()  # the node is an HA standby, which refuses polls by design

    def __init__(self, target: Target, publish: Callable[[TargetState], None],
                 slots: SlotPool, metrics: SelfMetrics, workers: ParseWorkers,
                 clock: Callable[[], float] = time.time, budget: ByteBudget | None = None):
        self.target = target
        self.slots = slots
        self.metrics = metrics
        self.workers = workers
        self.clock = clock
        self.budget = budget
        self.backoff_until: float | None = None  # unix time: Retry-After
        self._slot, self._grid = wake_grids(target.interval)  # rounds start and request gaps end on them
        # The per-poll self-metrics' children, looked up once (labels() is a lock and a lookup per call).
        self._polls = {c: metrics.polls.labels(self.family, target.name, c) for c in target.collectors}
        self._requests_ok = metrics.requests.labels(self.family, target.name, "ok")
        self._slot_wait = metrics.slot_wait.labels(self.family).observe
        # Its last round ended with no answer at all (exporter.slots: a suspect's share of the slots is bounded).
        self.suspect = False
        self._answered = False  # something answered this round: a timeout may then be retried
        metrics.backoff_until.labels(self.family, target.name).set(0)
        # At 0 from the start: an alert on increase() then sees the first failed round, not only the second.
        for reason in sorted(self.auth_reasons):
            metrics.auth_failures.labels(self.family, target.name, reason)
        self.records = RoundRecords(target, self.family, self.status_specs, metrics, publish, clock,
                                    self.collector_note)
        self.held = HeldAnswers(workers, target.name, self.records.record)
        self.records.commit(up=False, standby=False)

    @property
    def collectors(self) -> dict[str, CollectorState]:
        return self.records.collectors

    @property
    def state(self) -> TargetState:
        return self.records.state

    def mute(self) -> None:
        """Whatever this poller was doing, it no longer shows (removed or replaced by a reload)."""
        self.records.publish = lambda state: None

    async def fetch(self, collector: str, deadline: float) -> object:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def certificate_expiry(self) -> float | None:
        """When the certificate the device last presented expires (Unix time); None: not known (http://)."""
        return None

    def collector_note(self, collector: str) -> Any:
        """What this poller knows of a collector that its family's status series show beside the collector's
        state (e.g. a table polled in another format from then on); None: nothing."""
        return None

    async def run(self) -> None:
        await every_interval(self.target.name, self.target.interval, self._slot, self.poll_round)

    async def poll_round(self) -> None:
        if self.backoff_until is not None:
            if self.clock() < self.backoff_until:
                log(logger, logging.DEBUG, "round skipped: the device asked for a pause (Retry-After)",
                    target=self.target.name)
                return
            self.backoff_until = None
            self.metrics.backoff_until.labels(self.family, self.target.name).set(0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.target.interval
        auth_failed = standby = False
        self._answered = False
        stop: FetchError | None = None
        try:
            for i, collector in enumerate(self.target.collectors):
                if stop is None and loop.time() >= deadline:
                    stop = FetchError("round_overrun", f"round exceeded the {self.target.interval:g}s interval")
                if stop is not None:
                    self.records.fail(collector, stop.reason, f"{collector}: not polled: {stop}", None,
                                      skipped=True)
                    continue
                if i:
                    await gap(self._grid)
                error = await self.poll_collector(collector, deadline)
                if error is None:
                    self._answered = True
                    self.suspect = False  # back: its next tables go out as any healthy device's do
                    continue
                auth_failed |= error.reason in self.auth_reasons
                standby |= error.reason in self.standby_reasons
                if getattr(error, "retry_after", None) is not None:
                    self._back_off(error)
                    stop = error
                    continue
                if error.reason in self.round_stoppers or (_no_answer(error) and not self._answered):
                    stop = error
            await self._parse_held()
        finally:  # a round cancelled (reload, shutdown) gives back the bytes it held
            self.held.drop()
        if stop is not None and stop.reason in self.auth_reasons:
            self.metrics.auth_failures.labels(self.family, self.target.name, stop.reason).inc()
        self.records.rounds += 1
        self.suspect = not self._answered and stop is not None and _no_answer(stop)
        # every collector has its record of this round
        self.records.commit(up=self.records.any_success() and not auth_failed, standby=standby,
                            certificate_expiry=self.certificate_expiry())

    async def _parse_held(self) -> None:
        await self.held.parse_all(self.parse)

    def _back_off(self, error: FetchError) -> None:
        """The device asked for a pause: no request before then (bounded: a device cannot silence itself
        for a day), the rest of this round included."""
        pause = min(error.retry_after, MAX_BACKOFF)
        self.backoff_until = self.clock() + pause
        self.metrics.backoff_until.labels(self.family, self.target.name).set(self.backoff_until)
        log(logger, logging.WARNING, "device asked for a pause; not polling it until then", target=self.target.name,
            reason=error.reason, retry_after=f"{error.retry_after:g}s", pause=f"{pause:g}s")

    async def retrying(self, op: Callable[[], Awaitable[object]], deadline: float, collector: str) -> object:
        """``op()`` with retries for transient errors, as long as the round's deadline allows."""
        loop = asyncio.get_running_loop()
        retries = 0
        while True:
            try:
                result = await op()
                self._requests_ok.inc()
                return result
            except FetchError as exc:
                release_slot()  # a failed try holds no slot through its backoff
                self.metrics.requests.labels(self.family, self.target.name, exc.reason).inc()
                backoff = BACKOFF[retries] if retries < len(BACKOFF) else None
                if not exc.retryable or exc.retry_after is not None or backoff is None \
                        or (exc.no_answer and not self._answered) \
                        or loop.time() + backoff + self.target.timeout > deadline:
                    raise
                retries += 1
                log(logger, logging.DEBUG, "retrying", target=self.target.name, collector=collector,
                    reason=exc.reason, retry=retries)
                await asyncio.sleep(backoff)

    async def poll_collector(self, collector: str, deadline: float) -> FetchError | PayloadError | None:
        """One table, under the poll's claim to a process-wide slot (exporter.slots: taken to send the request,
        for a moment, and to read the answer; waiting for the device holds none once the moment is over; given
        back when the poll ends). An answer read whole is parsed when the round ends, with the round's others
        (``HeldAnswers.parse_all``), its bytes counted until then; a streamed one (too large to hold) is parsed as it
        arrives. The error that stopped the table, if any is known yet."""
        with claiming(Claim(self.slots, self.suspect, self._slot_wait)):
            if self.budget is None:
                return await self._poll_collector(collector, deadline, None)
            # The answer's bytes are counted against the process-wide budget until it is parsed. Before waiting
            # for the budget, the answers this round holds are parsed and given back (budget.Reservation).
            reservation = Reservation(self.budget, before_wait=self._parse_held)
            try:
                with holding(reservation):
                    return await self._poll_collector(collector, deadline, reservation)
            finally:
                if not self.held.holds(reservation):
                    reservation.release()  # not held for the round's parse (released with it otherwise)

    async def _poll_collector(self, collector: str, deadline: float,
                              reservation: Reservation | None) -> FetchError | PayloadError | None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self._polls[collector].inc()
        try:
            raw = await self.fetch(collector, deadline)
        except FetchError as exc:
            self.records.fail(collector, exc.reason, str(exc), loop.time() - t0)
            return exc
        if not isinstance(raw, StreamedBody):
            if self.held.hold(Fetched(collector, raw, answer_size(raw), loop.time() - t0, reservation)):
                await self._parse_held()  # the process holds enough already: now, with what this round has
            return None
        try:
            result = await self.workers.stream(self.parse, (collector, self.target.name), raw,
                                               current_reservation())
        except Exception as exc:  # noqa: BLE001 - _record classifies it
            return self.records.record(collector, None, exc, loop.time() - t0, raw.size)
        return self.records.record(collector, result, None, loop.time() - t0, raw.size)

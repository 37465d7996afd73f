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
one collector is fetched, which function parses it, and which failures stop a round.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from exporter.budget import ByteBudget, Reservation, holding
from exporter.budget import current as current_reservation
from exporter.devicefamily import ParseOutcome, ParseResult, RoundAnswer, parse_round
from exporter.httpclient import FetchError, StreamedBody
from exporter.logs import log
from exporter.packed import EMPTY
from exporter.payload import PayloadError
from exporter.polling.parsing import ParseWorkers
from exporter.polling.state import CollectorState, TargetState
from exporter.polling.status import StatusRenderer, StatusSpecs
from exporter.selfmetrics import SelfMetrics
from exporter.slots import Claim, SlotPool, claiming
from exporter.slots import release as release_slot

logger = logging.getLogger("exporter.poller")

REQUEST_GAP = 0.05  # seconds between two requests to one device
BACKOFF = (0.5, 1.0, 2.0)  # one entry per retry
MAX_BACKOFF = 600.0  # seconds: the longest Retry-After honoured
# Wake-ups on a grid: a round starts on the next ROUND_SLOT boundary after its phase, a request gap ends on the
# next WAKE_GRID boundary. The targets sharing a slot then move in step: their requests, answers and gaps wake
# the event loop together, and one wake-up serves many of them. Waking once per request cost the main process
# 15-35% more CPU at 1,000 SBCs (bench/mainloop.py --paced, two checkouts side by side: 5.5-6.1 ms per device
# round without, 4.7-5.1 ms with 0.25 s / 10 ms, 3.5-3.8 ms with 1 s / 25 ms; more targets per slot, longer
# bursts for a scrape to wait behind). A device still sees one request at a time, each gap 50-70 ms.
# A target's answers read whole are held until its round ends and parsed in one job: a seventh of the hand-offs
# and worker wake-ups, and the worker's caches warm from one table to the next (bench/fleet.py, two checkouts at
# once: -13% of the exporter's CPU, -17% of the main process's). Bounded for the process: beyond this, a poller
# parses what it holds at once (a fleet starting together, or a very large one).
ROUND_HOLD_BYTES = 8 << 20
ROUND_SLOT = 0.5  # seconds (wake_grids: at most 1/20 of the target's interval)
WAKE_GRID = 0.02  # seconds (wake_grids: at most 1/100 of the target's interval)


def on_grid(when: float, grid: float) -> float:
    """The first multiple of ``grid`` at or after ``when`` (loop time)."""
    return math.ceil(when / grid) * grid


def wake_grids(interval: float) -> tuple[float, float]:
    """(round slot, request-gap grid) for a target polled every ``interval`` seconds: the constants above,
    smaller for short intervals (at most 1/20 and 1/100 of it)."""
    return min(ROUND_SLOT, interval / 20), min(WAKE_GRID, interval / 100)


def _no_answer(error: FetchError | PayloadError) -> bool:
    """The device (or the service asked) gave no answer at all: nothing to retry this round."""
    return isinstance(error, FetchError) and error.no_answer


def _size(raw: object) -> int:
    """The bytes of an answer: a body, or every body in a family's typed answers (a record, a list, a dict)."""
    if isinstance(raw, bytes | bytearray):
        return len(raw)
    if isinstance(raw, dict):
        return sum(_size(v) for v in raw.values())
    if isinstance(raw, list | tuple):
        return sum(_size(v) for v in raw)
    if dataclasses.is_dataclass(raw):
        return sum(_size(getattr(raw, f.name)) for f in dataclasses.fields(raw))
    return 0


@dataclass(slots=True)
class _Fetched:
    """An answer read whole, held until the round's answers are parsed together; its bytes stay counted."""

    collector: str
    answer: object  # the body, or a family's typed answer
    size: int
    seconds: float  # the requests, retries included
    reservation: Reservation | None

    def __post_init__(self) -> None:
        if self.reservation is not None:
            self.reservation.budget.round_held += self.size

    def release(self) -> None:
        if self.reservation is not None:
            self.reservation.budget.round_held -= self.size
            self.reservation.release()
            self.reservation = None


class BasePoller:
    family = ""  # the family's name: the `family` label of the exporter's own metrics
    status_specs: StatusSpecs  # the family's status series
    parse: Callable[..., object]  # (collector, target name, answer) -> ParseResult, run in a parse worker
    # The device cannot answer anything now.
    round_stoppers: frozenset[str] = frozenset({"connection", "connect_timeout", "dns", "tls"})
    auth_reasons: frozenset[str] = frozenset()  # we are not let in: the target is down, whatever else answered
    standby_reasons: frozenset[str] = frozenset()  # the node is an HA standby, which refuses polls by design

    def __init__(self, target, publish: Callable[[TargetState], None],
                 slots: SlotPool, metrics: SelfMetrics, workers: ParseWorkers,
                 clock: Callable[[], float] = time.time, budget: ByteBudget | None = None):
        self.target = target
        self.publish = publish
        self.slots = slots
        self.metrics = metrics
        self.workers = workers
        self.clock = clock
        self.budget = budget
        self.status = StatusRenderer(self.status_specs, target)
        self.backoff_until: float | None = None  # unix time: Retry-After
        self._slot, self._grid = wake_grids(target.interval)  # rounds start and request gaps end on them
        # The per-poll self-metrics' children, looked up once (labels() is a lock and a lookup per call).
        self._polls = {c: metrics.polls.labels(self.family, target.name, c) for c in target.collectors}
        self._durations = {c: metrics.poll_duration.labels(self.family, c) for c in target.collectors}
        self._requests_ok = metrics.requests.labels(self.family, target.name, "ok")
        self._slot_wait = metrics.slot_wait.labels(self.family).observe
        # Its last round ended with no answer at all (exporter.slots: a suspect's share of the slots is bounded).
        self.suspect = False
        self._answered = False  # something answered this round: a timeout may then be retried
        metrics.backoff_until.labels(self.family, target.name).set(0)
        # At 0 from the start: an alert on increase() then sees the first failed round, not only the second.
        for reason in sorted(self.auth_reasons):
            metrics.auth_failures.labels(self.family, target.name, reason)
        # The round's records, replaced in place as each collector is polled; published as one TargetState
        # when the round ends (_commit): one status rendering and one hand-over per round, not per poll.
        self.collectors: dict[str, CollectorState] = {c: CollectorState(c) for c in target.collectors}
        self.samples = 0  # the collectors' samples, summed (max_series), kept as records are replaced
        self.rounds = 0
        self._pending: list[_Fetched] = []  # this round's answers read whole, parsed together (_parse_pending)
        self.state = TargetState(target.name, target.interval, family=self.family)
        self._commit(up=False, standby=False)

    async def fetch(self, collector: str, deadline: float) -> object:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def collector_note(self, collector: str) -> Any:
        """What this poller knows of a collector that its family's status series show beside the collector's
        state (e.g. a table polled in another format from then on); None: nothing."""
        return None

    async def run(self) -> None:
        """Poll rounds on a fixed period. The first round starts at once (readiness); the second at a phase
        stable for this target within the interval (a hash of its name, as Prometheus spreads scrape
        targets); later ones exactly one interval apart. A fleet's rounds stay spread over the interval,
        and each collector is refreshed every interval, never drifting later round after round."""
        loop = asyncio.get_running_loop()
        interval = self.target.interval
        await asyncio.sleep(random.uniform(0, min(1.0, interval / 10)))
        start = loop.time()
        phase = zlib.crc32(self.target.name.encode()) / 2**32  # 0 <= phase < 1
        next_start = start + interval * (0.5 + phase)
        while True:
            try:
                await self.poll_round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the poller for good
                logger.exception("poll round crashed", extra={"fields": {"target": self.target.name}})
            now = loop.time()
            while next_start <= now:  # a round that overran its slot skips it, never bunches up
                next_start += interval
            await asyncio.sleep(on_grid(next_start, self._slot) - now)  # the period itself stays exact: no drift
            next_start += interval

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
                    self._fail(collector, stop.reason, f"{collector}: not polled: {stop}", None, skipped=True)
                    continue
                if i:
                    await asyncio.sleep(on_grid(loop.time() + REQUEST_GAP, self._grid) - loop.time())
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
            await self._parse_pending()
        finally:  # a round cancelled (reload, shutdown) gives back the bytes it held
            for fetched in self._pending:
                fetched.release()
            self._pending.clear()
        if stop is not None and stop.reason in self.auth_reasons:
            self.metrics.auth_failures.labels(self.family, self.target.name, stop.reason).inc()
        self.rounds += 1
        self.suspect = not self._answered and stop is not None and _no_answer(stop)
        up = any(state.success for state in self.collectors.values())  # every collector has its record of this round
        self._commit(up=up and not auth_failed, standby=standby)

    def _commit(self, up: bool, standby: bool) -> None:
        """Publish the round: a snapshot of the collectors' records and the status gauges rendered from them
        (the target's own only when up or standby changed)."""
        previous = self.state
        status = previous.status
        if not status or (up, standby) != (previous.up, previous.standby):
            status = self.status.target(up, standby)
        self.state = TargetState(
            self.target.name, self.target.interval, dict(self.collectors), rounds=self.rounds, up=up,
            standby=standby, family=self.family, status=status,
            collector_status=self.status.collectors(self.collectors.values(), self.collector_note))
        self.publish(self.state)

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
        (``_parse_pending``), its bytes counted until then; a streamed one (too large to hold) is parsed as it
        arrives. The error that stopped the table, if any is known yet."""
        with claiming(Claim(self.slots, self.suspect, self._slot_wait)):
            if self.budget is None:
                return await self._poll_collector(collector, deadline, None)
            # The answer's bytes are counted against the process-wide budget until it is parsed. Before waiting
            # for the budget, the answers this round holds are parsed and given back (budget.Reservation).
            reservation = Reservation(self.budget, before_wait=self._parse_pending)
            try:
                with holding(reservation):
                    return await self._poll_collector(collector, deadline, reservation)
            finally:
                if all(f.reservation is not reservation for f in self._pending):
                    reservation.release()  # not held for the round's parse (released with it otherwise)

    async def _poll_collector(self, collector: str, deadline: float,
                              reservation: Reservation | None) -> FetchError | PayloadError | None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self._polls[collector].inc()
        try:
            raw = await self.fetch(collector, deadline)
        except FetchError as exc:
            self._fail(collector, exc.reason, str(exc), loop.time() - t0)
            return exc
        if not isinstance(raw, StreamedBody):
            self._pending.append(_Fetched(collector, raw, _size(raw), loop.time() - t0, reservation))
            if reservation is None or reservation.budget.round_held > ROUND_HOLD_BYTES:
                await self._parse_pending()  # the process holds enough already: now, with what this round has
            return None
        try:
            result = await self.workers.stream(self.parse, (collector, self.target.name), raw,
                                               current_reservation())
        except Exception as exc:  # noqa: BLE001 - _record classifies it
            return self._record(collector, None, exc, loop.time() - t0, raw.size)
        return self._record(collector, result, None, loop.time() - t0, raw.size)

    async def _parse_pending(self) -> None:
        """Parse the answers this round holds, in one job (``devicefamily.parse_round``), and record each."""
        fetched, self._pending = self._pending, []
        if not fetched:
            return
        try:
            outcomes = await self.workers.run(parse_round, self.parse, self.target.name,
                                              [RoundAnswer(f.collector, f.answer) for f in fetched])
        except Exception as exc:  # noqa: BLE001 - the job itself failed (its worker died): each answer with it
            outcomes = [ParseOutcome(None, exc, 0.0)] * len(fetched)
        finally:
            for f in fetched:
                f.release()
        for f, outcome in zip(fetched, outcomes, strict=True):
            self._record(f.collector, outcome.result, outcome.error, f.seconds + outcome.seconds, f.size)

    def _record(self, collector: str, result: ParseResult | None, error: Exception | None, duration: float,
                size: int) -> FetchError | PayloadError | None:
        """A parsed answer (or what stopped its parser) into the collector's record of this round."""
        if isinstance(error, FetchError):  # the rest of a streamed answer could not be read
            self._fail(collector, error.reason, str(error), duration, size)
            return error
        if isinstance(error, PayloadError):
            self._fail(collector, error.reason, f"{collector}: {error}", duration, size)
            return error
        if error is not None or result is None:  # a parser bug is one failed collector, not a dead poller
            logger.error("parser crashed", exc_info=error,
                         extra={"fields": {"target": self.target.name, "collector": collector}})
            failed = PayloadError("parser_error", f"{collector}: parser error: {type(error).__name__}")
            self._fail(collector, failed.reason, str(failed), duration, size)
            return failed
        limit = self.target.max_series
        samples = result.samples
        others = self.samples - self.collectors[collector].samples
        if limit and samples + others > limit:
            failed = PayloadError("series_limit", f"{collector}: {samples} series would take the target to "
                                  f"{samples + others}, over max_series ({limit}); its series are dropped")
            self._fail(collector, failed.reason, str(failed), duration, size, drop_data=True)
            return failed
        if self.collectors[collector].reason is not None:
            log(logger, logging.INFO, "poll recovered", target=self.target.name, collector=collector)
        self._set(CollectorState(collector, True, result.chunk, samples, last_success=self.clock(),
                                 duration=duration, response_bytes=size, facts=result.facts))
        self._durations[collector].observe(duration)
        return None

    def _fail(self, collector: str, reason: str, message: str, duration: float | None,
              response_bytes: int | None = None, skipped: bool = False, drop_data: bool = False) -> None:
        previous = self.collectors[collector]
        self.metrics.poll_errors.labels(self.family, self.target.name, collector, reason).inc()
        if duration is not None:
            self._durations[collector].observe(duration)
        # One warning when a collector starts failing or fails differently; repeats, and collectors a stopped
        # round did not poll, go to debug: a wrong password is one clear line, not one per table.
        level = logging.DEBUG if skipped or previous.reason == reason else logging.WARNING
        log(logger, level, "poll failed", target=self.target.name, collector=collector, reason=reason,
            error=message)
        failed = replace(previous, success=False, duration=duration, response_bytes=response_bytes, reason=reason,
                         error=message)
        if drop_data:
            failed = replace(failed, chunk=EMPTY, samples=0)
        self._set(failed)

    def _set(self, state: CollectorState) -> None:
        self.samples += state.samples - self.collectors[state.collector].samples
        self.collectors[state.collector] = state  # shown when the round ends (_commit)

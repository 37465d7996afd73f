"""One background task per device: polls its collectors one at a time, every interval, and publishes a snapshot of
each round when it ends.

Protecting the device comes first: one request at a time, retries only for transient errors (400 from the
SBC, 5xx, timeouts) and only while the round's deadline allows, never after an authentication failure (a
storm of failed logins helps nobody and may lock the account), and a round stops at the first sign that the
device is unreachable or refusing us instead of sending it the remaining collectors.

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
from dataclasses import replace

from exporter.budget import ByteBudget, Reservation, holding
from exporter.budget import current as current_reservation
from exporter.engine.parsing import ParseWorkers
from exporter.engine.selfmetrics import SelfMetrics
from exporter.engine.state import CollectorState, TargetState
from exporter.engine.status import StatusRenderer, StatusSpecs
from exporter.httpclient import FetchError, StreamedBody
from exporter.logs import log
from exporter.packed import EMPTY
from exporter.payload import PayloadError
from exporter.reasons import REASONS

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
ROUND_SLOT = 0.5  # seconds (wake_grids: at most 1/20 of the target's interval)
WAKE_GRID = 0.02  # seconds (wake_grids: at most 1/100 of the target's interval)


def on_grid(when: float, grid: float) -> float:
    """The first multiple of ``grid`` at or after ``when`` (loop time)."""
    return math.ceil(when / grid) * grid


def wake_grids(interval: float) -> tuple[float, float]:
    """(round slot, request-gap grid) for a target polled every ``interval`` seconds: the constants above,
    smaller for short intervals (at most 1/20 and 1/100 of it)."""
    return min(ROUND_SLOT, interval / 20), min(WAKE_GRID, interval / 100)


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


class BasePoller:
    family = ""  # the family's name: the `family` label of the exporter's own metrics
    status_specs: StatusSpecs  # the family's status series
    parse: Callable[..., object]  # (collector, target name, answer) -> ParseResult, run in a parse worker
    round_stoppers: frozenset[str] = frozenset({"connection", "tls"})  # the device cannot answer anything now
    auth_reasons: frozenset[str] = frozenset()  # we are not let in: the target is down, whatever else answered
    standby_reasons: frozenset[str] = frozenset()  # the node is an HA standby, which refuses polls by design

    def __init__(self, target, publish: Callable[[TargetState], None],
                 limiter: asyncio.Semaphore, metrics: SelfMetrics, workers: ParseWorkers,
                 clock: Callable[[], float] = time.time, budget: ByteBudget | None = None):
        self.target = target
        self.publish = publish
        self.limiter = limiter
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
        metrics.backoff_until.labels(self.family, target.name).set(0)
        # At 0 from the start: an alert on increase() then sees the first failed round, not only the second.
        for reason in sorted(self.auth_reasons):
            metrics.auth_failures.labels(self.family, target.name, reason)
        # The round's records, replaced in place as each collector is polled; published as one TargetState
        # when the round ends (_commit): one status rendering and one hand-over per round, not per poll.
        self.collectors: dict[str, CollectorState] = {c: CollectorState(c) for c in target.collectors}
        self.samples = 0  # the collectors' samples, summed (max_series), kept as records are replaced
        self.json_fallback: frozenset[str] = frozenset()  # tables polled as XML for good (VsxiPoller)
        self.rounds = 0
        self.state = TargetState(target.name, target.interval, family=self.family)
        self._commit(up=False, standby=False)

    async def fetch(self, collector: str, deadline: float) -> object:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

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
        got_one = auth_failed = standby = False
        stop: FetchError | None = None
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
                got_one = True
                continue
            auth_failed |= error.reason in self.auth_reasons
            standby |= error.reason in self.standby_reasons
            if getattr(error, "retry_after", None) is not None:
                self._back_off(error)
                stop = error
                continue
            if error.reason in self.round_stoppers or (error.reason == "timeout" and not got_one):
                stop = error
        if stop is not None and stop.reason in self.auth_reasons:
            self.metrics.auth_failures.labels(self.family, self.target.name, stop.reason).inc()
        self.rounds += 1
        self._commit(up=got_one and not auth_failed, standby=standby)

    def _commit(self, up: bool, standby: bool) -> None:
        """Publish the round: a snapshot of the collectors' records and the status gauges rendered from them
        (the target's own only when up or standby changed)."""
        previous = self.state
        status = previous.status
        if not status or (up, standby) != (previous.up, previous.standby):
            status = self.status.target(up, standby)
        self.state = TargetState(
            self.target.name, self.target.interval, dict(self.collectors), rounds=self.rounds, up=up,
            standby=standby, json_fallback=self.json_fallback, family=self.family, status=status,
            collector_status=self.status.collectors(self.collectors.values(), self.json_fallback))
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
                self.metrics.requests.labels(self.family, self.target.name, exc.reason).inc()
                backoff = BACKOFF[retries] if retries < len(BACKOFF) else None
                if not exc.retryable or exc.retry_after is not None or backoff is None \
                        or loop.time() + backoff + self.target.timeout > deadline:
                    raise
                retries += 1
                log(logger, logging.DEBUG, "retrying", target=self.target.name, collector=collector,
                    reason=exc.reason, retry=retries)
                await asyncio.sleep(backoff)

    async def poll_collector(self, collector: str, deadline: float) -> FetchError | PayloadError | None:
        """One table: fetched and parsed within the global limit on requests in flight (it bounds the answers
        held in memory at once and the exporter's fan-out; the gap between a device's requests holds no slot)."""
        async with self.limiter:
            if self.budget is None:
                return await self._poll_collector(collector, deadline)
            # The answer's bytes are counted against the process-wide budget until it is parsed.
            reservation = Reservation(self.budget)
            try:
                with holding(reservation):
                    return await self._poll_collector(collector, deadline)
            finally:
                reservation.release()

    async def _poll_collector(self, collector: str, deadline: float) -> FetchError | PayloadError | None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        name = self.target.name
        self._polls[collector].inc()
        try:
            raw = await self.fetch(collector, deadline)
        except FetchError as exc:
            self._fail(collector, exc.reason, str(exc), loop.time() - t0)
            return exc
        size = _size(raw)
        try:
            if isinstance(raw, StreamedBody):
                parsed = self.workers.stream(self.parse, (collector, name), raw, current_reservation())
            else:
                parsed = self.workers.run(self.parse, collector, name, raw)
            try:
                result = await parsed
            finally:
                size = raw.size if isinstance(raw, StreamedBody) else size
        except FetchError as exc:  # the rest of a streamed answer could not be read
            self._fail(collector, exc.reason, str(exc), loop.time() - t0, size)
            return exc
        except PayloadError as exc:
            self._fail(collector, exc.reason, f"{collector}: {exc}", loop.time() - t0, size)
            return exc
        except Exception as exc:  # a parser bug is one failed collector, not a dead poller
            logger.exception("parser crashed", extra={"fields": {"target": name, "collector": collector}})
            error = PayloadError("parser_error", f"{collector}: parser error: {type(exc).__name__}")
            self._fail(collector, error.reason, str(error), loop.time() - t0, size)
            return error
        duration = loop.time() - t0
        limit = self.target.max_series
        samples = result.samples
        others = self.samples - self.collectors[collector].samples
        if limit and samples + others > limit:
            error = PayloadError("series_limit", f"{collector}: {samples} series would take the target to "
                                 f"{samples + others}, over max_series ({limit}); its series are dropped")
            self._fail(collector, error.reason, str(error), duration, size, drop_data=True)
            return error
        if self.collectors[collector].reason is not None:
            log(logger, logging.INFO, "poll recovered", target=name, collector=collector)
        now = self.clock()
        self._set(CollectorState(collector, True, result.chunk, samples, last_success=now, duration=duration,
                                 response_bytes=size, unmapped_fields=result.unmapped_fields,
                                 duplicate_rows=result.duplicate_rows))
        self._durations[collector].observe(duration)
        return None

    def _fail(self, collector: str, reason: str, message: str, duration: float | None,
              response_bytes: int | None = None, skipped: bool = False, drop_data: bool = False) -> None:
        assert reason in REASONS, reason
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

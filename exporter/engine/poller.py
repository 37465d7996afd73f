"""One background task per VSXi: polls its tables one at a time, every interval, and publishes snapshots.

Protecting the device comes first: one request at a time with a small gap (the SBC answers 400 to requests
that arrive within milliseconds of each other), retries only for 400/5xx/timeouts and only while the round's
deadline allows, never after a 401 (a lockout or a storm of failed logins helps nobody), and a round stops at
the first sign that the device is unreachable or refusing (401, 402, connection lost) instead of hammering it
with the remaining tables.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace

from exporter.config import VsxiTarget
from exporter.engine.selfmetrics import SelfMetrics
from exporter.engine.state import CollectorState, TargetState
from exporter.engine.workers import ParseWorkers
from exporter.families import Builder
from exporter.logs import log
from exporter.reasons import REASONS
from exporter.vsxi.client import FetchError, VsxiClient
from exporter.vsxi.metrics import BUILDERS, duplicates_of
from exporter.vsxi.parse import PARSERS
from exporter.vsxi.wire import PayloadError

logger = logging.getLogger("exporter.poller")

REQUEST_GAP = 0.05  # seconds between two requests to one device
BACKOFF = (0.5, 1.0, 2.0)  # one entry per retry
JITTER = 0.1  # +-10% of the interval between rounds
ROUND_STOPPERS = {"http_401", "http_402", "connection", "tls"}


def parse_and_build(collector: str, target: str, body: bytes) -> tuple[tuple, int, int]:
    """Runs in a worker thread: the answer's records reduced to metric families and two counts."""
    rec = PARSERS[collector](body)
    b = Builder()
    BUILDERS[collector](b, target, rec)
    return tuple(b.families()), len(rec.unmapped.names), duplicates_of(rec)


class VsxiPoller:
    def __init__(self, target: VsxiTarget, publish: Callable[[TargetState], None], limiter: asyncio.Semaphore,
                 metrics: SelfMetrics, workers: ParseWorkers, clock: Callable[[], float] = time.time):
        self.target = target
        self.publish = publish
        self.limiter = limiter
        self.metrics = metrics
        self.workers = workers
        self.clock = clock
        self.client = VsxiClient(target)
        self.state = TargetState(target.name, target.interval,
                                 {c: CollectorState(c) for c in target.collectors})
        self.publish(self.state)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.uniform(0, min(1.0, self.target.interval / 10)))
        while True:
            started = loop.time()
            try:
                async with self.limiter:
                    await self.poll_round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the poller for good
                logger.exception("poll round crashed", extra={"fields": {"target": self.target.name}})
            interval = self.target.interval * random.uniform(1 - JITTER, 1 + JITTER)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def close(self) -> None:
        await self.client.close()

    async def poll_round(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.target.interval
        got_table = auth_failed = standby = False
        stop: FetchError | None = None
        for i, collector in enumerate(self.target.collectors):
            if stop is None and loop.time() >= deadline:
                stop = FetchError("round_overrun", f"round exceeded the {self.target.interval:g}s interval")
            if stop is not None:
                self._fail(collector, stop.reason, f"{collector}: not polled: {stop}", None)
                continue
            if i:
                await asyncio.sleep(REQUEST_GAP)
            error = await self.poll_collector(collector, deadline)
            if error is None:
                got_table = True
                continue
            auth_failed |= error.reason == "http_401"
            standby |= error.reason == "http_402"
            if error.reason in ROUND_STOPPERS or (error.reason == "timeout" and not got_table):
                stop = error
        self.state = replace(self.state, rounds=self.state.rounds + 1, up=got_table and not auth_failed,
                             standby=standby)
        self.publish(self.state)

    async def poll_collector(self, collector: str, deadline: float) -> FetchError | PayloadError | None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        name = self.target.name
        self.metrics.polls.labels("vsxi", name, collector).inc()
        fmt = "xml" if collector in self.state.json_fallback else self.target.format
        retries = 0
        while True:
            try:
                body = await self.client.fetch(collector, fmt)
                self.metrics.requests.labels("vsxi", name, "ok").inc()
                break
            except FetchError as exc:
                self.metrics.requests.labels("vsxi", name, exc.reason).inc()
                if exc.reason == "json_jaxb" and fmt == "json":
                    fmt = "xml"
                    self.state = replace(self.state, json_fallback=self.state.json_fallback | {collector})
                    log(logger, logging.WARNING, "JSON conversion failed on the device; polling this table as "
                        "XML from now on", target=name, collector=collector)
                    continue
                backoff = BACKOFF[retries] if retries < len(BACKOFF) else None
                if exc.retryable and backoff is not None and \
                        loop.time() + backoff + self.target.timeout <= deadline:
                    retries += 1
                    log(logger, logging.DEBUG, "retrying", target=name, collector=collector, reason=exc.reason,
                        retry=retries)
                    await asyncio.sleep(backoff)
                    continue
                self._fail(collector, exc.reason, str(exc), loop.time() - t0)
                return exc
        try:
            families, unmapped, duplicates = await self.workers.run(
                parse_and_build, collector, name, body, size=len(body))
        except PayloadError as exc:
            self._fail(collector, exc.reason, f"{collector}: {exc}", loop.time() - t0, len(body))
            return exc
        except Exception as exc:  # a parser bug is one failed table, not a dead poller
            logger.exception("parser crashed", extra={"fields": {"target": name, "collector": collector}})
            error = PayloadError("parser_error", f"{collector}: parser error: {type(exc).__name__}")
            self._fail(collector, error.reason, str(error), loop.time() - t0, len(body))
            return error
        duration = loop.time() - t0
        previous = self.state.collectors[collector]
        if previous.reason is not None:
            log(logger, logging.INFO, "poll recovered", target=name, collector=collector)
        self._set(CollectorState(
            collector, True, families, self.clock(), self.clock(), duration, len(body), unmapped, duplicates,
        ))
        self.metrics.poll_duration.labels("vsxi", collector).observe(duration)
        return None

    def _fail(self, collector: str, reason: str, message: str, duration: float | None,
              response_bytes: int | None = None) -> None:
        assert reason in REASONS, reason
        previous = self.state.collectors[collector]
        self.metrics.poll_errors.labels("vsxi", self.target.name, collector, reason).inc()
        if duration is not None:
            self.metrics.poll_duration.labels("vsxi", collector).observe(duration)
        # One warning when a table starts failing or fails differently; repeats go to debug.
        level = logging.DEBUG if previous.reason == reason else logging.WARNING
        log(logger, level, "poll failed", target=self.target.name, collector=collector, reason=reason,
            error=message)
        self._set(replace(previous, success=False, last_attempt=self.clock(), duration=duration,
                          response_bytes=response_bytes, reason=reason, error=message))

    def _set(self, state: CollectorState) -> None:
        self.state = replace(self.state, collectors={**self.state.collectors, state.collector: state})
        self.publish(self.state)

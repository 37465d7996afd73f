"""What a target's rounds leave: each collector's record of this round (success with its series, or the reason
it failed), the samples they hold against ``max_series``, and the snapshot published when a round ends."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from exporter.devicefamily import ParseResult
from exporter.httpclient import FetchError
from exporter.logs import log
from exporter.packed import EMPTY
from exporter.payload import PayloadError
from exporter.polling.state import CollectorState, TargetState
from exporter.polling.status import StatusRenderer, StatusSpecs
from exporter.selfmetrics import SelfMetrics
from exporter.target import Target

logger = logging.getLogger("exporter.poller")


class RoundRecords:
    """The collectors' records of one target, replaced in place as each is polled, published as one
    ``TargetState`` when the round ends (``commit``): one status rendering and one hand-over per round."""

    def __init__(self, target: Target, family: str, status_specs: StatusSpecs, metrics: SelfMetrics,
                 publish: Callable[[TargetState], None], clock: Callable[[], float],
                 collector_note: Callable[[str], Any]):
        self.target = target
        self.family = family
        self.metrics = metrics
        self.publish = publish
        self.clock = clock
        self.collector_note = collector_note
        self.status = StatusRenderer(status_specs, target)
        self._durations = {c: metrics.poll_duration.labels(family, c) for c in target.collectors}
        self.collectors: dict[str, CollectorState] = {c: CollectorState(c) for c in target.collectors}
        self.samples = 0  # the collectors' samples, summed (max_series), kept as records are replaced
        self.rounds = 0
        self.state = TargetState(target.name, target.interval, family=family)
        self._target_status: tuple[bool, bool, float | None] | None = None  # what the target's lines show

    def record(self, collector: str, result: ParseResult | None, error: Exception | None, duration: float,
               size: int) -> FetchError | PayloadError | None:
        """A parsed answer (or what stopped its parser) into the collector's record of this round."""
        if isinstance(error, FetchError):  # the rest of a streamed answer could not be read
            self.fail(collector, error.reason, str(error), duration, size)
            return error
        if isinstance(error, PayloadError):
            self.fail(collector, error.reason, f"{collector}: {error}", duration, size)
            return error
        if error is not None or result is None:  # a parser bug is one failed collector, not a dead poller
            logger.error("parser crashed", exc_info=error,
                         extra={"fields": {"target": self.target.name, "collector": collector}})
            failed = PayloadError("parser_error", f"{collector}: parser error: {type(error).__name__}")
            self.fail(collector, failed.reason, str(failed), duration, size)
            return failed
        limit = self.target.max_series
        samples = result.samples
        others = self.samples - self.collectors[collector].samples
        if limit and samples + others > limit:
            failed = PayloadError("series_limit", f"{collector}: {samples} series would take the target to "
                                  f"{samples + others}, over max_series ({limit}); its series are dropped")
            self.fail(collector, failed.reason, str(failed), duration, size, drop_data=True)
            return failed
        if self.collectors[collector].reason is not None:
            log(logger, logging.INFO, "poll recovered", target=self.target.name, collector=collector)
        self._set(CollectorState(collector, True, result.chunk, samples, last_success=self.clock(),
                                 duration=duration, response_bytes=size, facts=result.facts))
        self._durations[collector].observe(duration)
        return None

    def fail(self, collector: str, reason: str, message: str, duration: float | None,
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
        self.collectors[state.collector] = state  # shown when the round ends (commit)

    def any_success(self) -> bool:
        return any(state.success for state in self.collectors.values())

    def commit(self, up: bool, standby: bool, certificate_expiry: float | None = None) -> None:
        """Publish the round: a snapshot of the collectors' records and the status gauges rendered from them
        (the target's own only when up, standby or the certificate's expiry changed)."""
        previous = self.state
        status = previous.status
        if (up, standby, certificate_expiry) != self._target_status:
            status = self.status.target(up, standby, certificate_expiry)
            self._target_status = (up, standby, certificate_expiry)
        self.state = TargetState(
            self.target.name, self.target.interval, dict(self.collectors), rounds=self.rounds, up=up,
            standby=standby, family=self.family, status=status,
            collector_status=self.status.collectors(self.collectors.values(), self.collector_note))
        self.publish(self.state)

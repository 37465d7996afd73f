"""The polling engine: one poller per target, the slots and byte budget they share, and the latest state of each.

Serving reads ``states`` and never waits on a device, nor encodes: each state carries its exposition bytes
(rendered by the pollers and parse workers), so a scrape leaves out data older than 3 intervals and joins
bytes, one header per metric over all targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from exporter.budget import ByteBudget
from exporter.config import Config
from exporter.exposition import join
from exporter.packed import Chunk, Pieces, piece_of
from exporter.polling.parsing import ParseWorkers
from exporter.polling.poller import BasePoller
from exporter.polling.state import TargetState
from exporter.selfmetrics import SelfMetrics
from exporter.slots import SlotPool

STALE_INTERVALS = 3
EOF_PIECE = piece_of(b"# EOF\n")
logger = logging.getLogger("exporter.engine")


def target_chunks(state: TargetState, now: float) -> list[Chunk]:
    """A target's exposition chunks (status, then each collector's status and fresh data): data whose last
    success is older than 3 intervals is left out, so a dead device never shows frozen values."""
    horizon = STALE_INTERVALS * state.interval
    chunks = [state.status, state.collector_status]
    for c in state.collectors.values():
        if c.chunk and c.last_success is not None and now - c.last_success <= horizon:
            chunks.append(c.chunk)
    return chunks


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did, target names sorted: stopped for good, restarted with a new definition, started."""

    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    def lines(self, separator: str = ",") -> list[tuple[str, str]]:
        """(kind, names) in a fixed order, names joined by ``separator`` or '-': for the log line (",") and
        the answer to POST /-/reload (", ")."""
        return [(kind, separator.join(names) or "-") for kind, names in
                (("removed", self.removed), ("changed", self.changed), ("added", self.added))]


class Engine:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.metrics = SelfMetrics(config.families.values())
        self.states: dict[str, TargetState] = {}
        self.workers = ParseWorkers()
        self.slots: SlotPool | None = None
        self.budget: ByteBudget | None = None
        self.pollers: dict[str, BasePoller] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.running = False
        # Rendered bytes the states hold (vsxi_xivo_exporter_cached_exposition_bytes, and _text_bytes: the
        # same as text), kept as states are published so that a scrape reads two numbers.
        self.held_bytes = 0
        self.text_bytes = 0
        self._held: dict[str, tuple[int, int]] = {}
        self._count_targets()
        self.metrics.watch_budget(lambda: self.budget)
        self.metrics.cached_exposition.set_function(lambda: self.held_bytes)
        self.metrics.cached_exposition_text.set_function(lambda: self.text_bytes)

    def _count_targets(self) -> None:
        for name in self.config.families:
            self.metrics.targets.labels(name).set(len(self.config.of_family(name)))

    def _publish(self, state: TargetState) -> None:
        chunks = [state.status, state.collector_status, *(c.chunk for c in state.collectors.values())]
        held, text = sum(c.packed_bytes for c in chunks), sum(c.text_bytes for c in chunks)
        old_held, old_text = self._held.get(state.name, (0, 0))
        self.held_bytes += held - old_held
        self.text_bytes += text - old_text
        self._held[state.name] = (held, text)
        self.states[state.name] = state

    def _add(self, target) -> None:
        kind = self.config.families[target.family].poller
        self.pollers[target.name] = kind(target, self._publish, self.slots, self.metrics, self.workers,
                                         self.clock, budget=self.budget)
        if self.running:
            self.tasks[target.name] = asyncio.create_task(self.pollers[target.name].run(),
                                                          name=f"poll-{target.name}")

    async def _remove(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        poller = self.pollers.pop(name)
        poller.mute()  # whatever it was doing, it no longer shows
        with contextlib.suppress(KeyError):
            self.metrics.backoff_until.remove(poller.family, name)
        for reason in poller.auth_reasons:
            with contextlib.suppress(KeyError):
                self.metrics.auth_failures.remove(poller.family, name, reason)
        self.states.pop(name, None)
        held, text = self._held.pop(name, (0, 0))
        self.held_bytes -= held
        self.text_bytes -= text
        await poller.close()  # e.g. revokes a session token

    def _build_pollers(self) -> None:
        if self.slots is None:
            self.slots = SlotPool(self.config.max_concurrent_targets)
            self.budget = ByteBudget(self.config.max_in_flight_bytes)
            for target in self.config.targets:
                self._add(target)

    async def start(self) -> None:
        """Start one background polling task per target."""
        self._build_pollers()
        self.running = True
        self.metrics.watch_tasks(asyncio.get_running_loop())
        self.tasks["<parse-workers>"] = asyncio.create_task(self.workers.start(), name="start-parse-workers")
        for name, poller in self.pollers.items():
            self.tasks[name] = asyncio.create_task(poller.run(), name=f"poll-{name}")

    async def reload(self, config: Config) -> ReloadResult:
        """Apply a new configuration: unchanged targets keep polling untouched (their data, tokens and
        timers), removed ones stop (their series go), changed and new ones start afresh."""
        self._build_pollers()
        if (config.max_concurrent_targets, config.max_in_flight_bytes) != (self.config.max_concurrent_targets,
                                                                             self.config.max_in_flight_bytes):
            self.slots = SlotPool(config.max_concurrent_targets)
            self.budget = ByteBudget(config.max_in_flight_bytes)
            keep = set()  # every poller must take the new limits
        else:
            keep = {t.name for t in config.targets
                    if t.name in self.pollers and self.pollers[t.name].target == t}
        wanted = {t.name for t in config.targets}
        changes = ReloadResult(removed=tuple(sorted(set(self.pollers) - wanted)),
                               changed=tuple(sorted((set(self.pollers) & wanted) - keep)),
                               added=tuple(sorted(wanted - set(self.pollers))))
        for name in (*changes.removed, *changes.changed):
            await self._remove(name)
        self.config = config
        for target in config.targets:
            if target.name not in keep:
                self._add(target)
        self._count_targets()
        return changes

    async def poll_once(self) -> None:
        """One poll round of every target, within the global limit (tests, benchmarks)."""
        self._build_pollers()

        await asyncio.gather(*(p.poll_round() for p in self.pollers.values()))

    async def stop(self) -> None:
        self.running = False
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in self.pollers.values()), return_exceptions=True)
        self.workers.shutdown()

    def ready(self) -> bool:
        """Every target has finished one poll round (successful or not)."""
        names = [t.name for t in self.config.targets]
        return all(name in self.states and self.states[name].rounds > 0 for name in names)

    def probe_exposition(self, name: str, openmetrics: bool) -> Pieces:
        """One target's exposition, joined from its cached pieces (no encoding: bounded by one target)."""
        pieces = join(target_chunks(self.states[name], self.clock()), openmetrics)
        if openmetrics:
            pieces.add(*EOF_PIECE)
        return pieces

    def fleet_exposition(self, states: dict[str, TargetState], openmetrics: bool) -> Pieces:
        """Every target of ``states`` (a copy taken on the event loop), as pieces to send in order (device
        sections only; the exporter's own metrics follow). Runs in a worker thread: it only joins."""
        now = self.clock()
        chunks: list[Chunk] = []
        for name in sorted(states):
            chunks.extend(target_chunks(states[name], now))
        return join(chunks, openmetrics)

"""The polling engine: one poller per target, a global concurrency limit, and the latest state of each.

Serving reads ``states`` and never waits on a device. Device families are built by the pollers; at scrape
time the engine only adds the per-collector status gauges, drops data older than 3 intervals and merges
targets into one family per metric name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client.core import Metric

from exporter.config import Config
from exporter.engine.poller import BasePoller, VsxiPoller, XivoPoller
from exporter.engine.selfmetrics import SelfMetrics
from exporter.engine.state import TargetState
from exporter.engine.workers import ParseWorkers
from exporter.families import Builder, merge
from exporter.vsxi import metrics as vm
from exporter.xivo import metrics as xm

STALE_INTERVALS = 3
logger = logging.getLogger("exporter.engine")


def status_families(state: TargetState, json_configured: bool = False, ha_group: str | None = None) -> list[Metric]:
    """``<family>_up`` and the per-collector status gauges, from the state alone."""
    m = vm if state.family == "vsxi" else xm
    b = Builder()
    t = state.name
    b.add(m.UP, (t,), 1.0 if state.up else 0.0)
    for name, c in state.collectors.items():
        b.add(m.COLLECTOR_SUCCESS, (t, name), 1.0 if c.success else 0.0)
        b.add(m.COLLECTOR_LAST_SUCCESS, (t, name), c.last_success)
        b.add(m.COLLECTOR_DURATION, (t, name), c.duration)
        b.add(m.COLLECTOR_BYTES, (t, name), c.response_bytes)
    if state.family == "vsxi":
        b.add(vm.STANDBY, (t,), 1.0 if state.standby else 0.0)
        if ha_group:
            b.add(vm.TARGET_INFO, (t, ha_group), 1.0)
        for name, c in state.collectors.items():
            b.add(vm.COLLECTOR_UNMAPPED, (t, name), c.unmapped_fields)
            b.add(vm.COLLECTOR_DUPLICATES, (t, name), c.duplicate_rows)
            if json_configured:
                b.add(vm.COLLECTOR_FALLBACK, (t, name), 1.0 if name in state.json_fallback else 0.0)
    return b.families()


def fresh_families(state: TargetState, now: float) -> Iterable[Iterable[Metric]]:
    """Data of collectors whose last success is recent enough: a dead device never shows frozen values."""
    horizon = now - STALE_INTERVALS * state.interval
    for c in state.collectors.values():
        if c.last_success is not None and c.last_success >= horizon:
            yield c.families


class Engine:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.metrics = SelfMetrics()
        self.states: dict[str, TargetState] = {}
        self.workers = ParseWorkers()
        self.limiter: asyncio.Semaphore | None = None
        self.pollers: dict[str, BasePoller] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.running = False
        self._count_targets()

    def _count_targets(self) -> None:
        self.metrics.targets.labels("vsxi").set(len(self.config.vsxi))
        self.metrics.targets.labels("xivo").set(len(self.config.xivo))

    def _publish(self, state: TargetState) -> None:
        self.states[state.name] = state

    def _add(self, target) -> None:
        kind = VsxiPoller if target.family == "vsxi" else XivoPoller
        self.pollers[target.name] = kind(target, self._publish, self.limiter, self.metrics, self.workers,
                                         self.clock)
        if self.running:
            self.tasks[target.name] = asyncio.create_task(self.pollers[target.name].run(),
                                                          name=f"poll-{target.name}")

    async def _remove(self, name: str) -> None:
        task = self.tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        poller = self.pollers.pop(name)
        poller.publish = lambda state: None  # whatever it was doing, it no longer shows
        self.states.pop(name, None)
        await poller.close()  # revokes a XiVO token

    def _build_pollers(self) -> None:
        if self.limiter is None:
            self.limiter = asyncio.Semaphore(self.config.max_concurrent_targets)
            for target in self.config.targets:
                self._add(target)

    async def start(self) -> None:
        """Start one background polling task per target."""
        self._build_pollers()
        self.running = True
        self.tasks["<warm>"] = asyncio.create_task(self.workers.warm(), name="warm-parse-workers")
        for name, poller in self.pollers.items():
            self.tasks[name] = asyncio.create_task(poller.run(), name=f"poll-{name}")

    async def reload(self, config: Config) -> dict[str, list[str]]:
        """Apply a new configuration: unchanged targets keep polling untouched (their data, tokens and
        timers), removed ones stop (their series go), changed and new ones start afresh."""
        self._build_pollers()
        if config.max_concurrent_targets != self.config.max_concurrent_targets:
            self.limiter = asyncio.Semaphore(config.max_concurrent_targets)
            keep = set()  # every poller must take the new limiter
        else:
            keep = {t.name for t in config.targets
                    if t.name in self.pollers and self.pollers[t.name].target == t}
        wanted = {t.name for t in config.targets}
        changes = {"removed": sorted(set(self.pollers) - wanted),
                   "changed": sorted((set(self.pollers) & wanted) - keep),
                   "added": sorted(wanted - set(self.pollers))}
        for name in changes["removed"] + changes["changed"]:
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

        async def one(poller: BasePoller) -> None:
            async with self.limiter:
                await poller.poll_round()

        await asyncio.gather(*(one(p) for p in self.pollers.values()))

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

    def device_families(self, names: Iterable[str] | None = None,
                        states: dict[str, TargetState] | None = None) -> list[Metric]:
        """Status and fresh data of the ``names`` targets (all by default), from ``states`` (a copy taken on
        the event loop, so this can run in a worker thread while pollers publish)."""
        states = self.states if states is None else states
        now = self.clock()
        wanted = list(states) if names is None else names
        vsxi = {t.name: t for t in self.config.vsxi}
        lists: list[Iterable[Metric]] = []
        for name in sorted(wanted):
            state = states.get(name)
            if state is None:
                continue
            try:
                sbc = vsxi.get(name)
                lists.append(status_families(state, sbc is not None and sbc.format == "json",
                                             sbc.ha_group if sbc else None))
                lists.extend(fresh_families(state, now))
            except Exception:  # one target's bug must not turn the whole scrape into a 500
                logger.exception("cannot build the metrics of a target", extra={"fields": {"target": name}})
        return merge(lists)

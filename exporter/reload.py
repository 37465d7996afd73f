"""Reloading the configuration without a restart: SIGHUP or ``POST /-/reload``, as Prometheus does; and the
inventory files (exporter.inventory), checked for a change every ``inventory.refresh_interval``.

A bad file changes nothing: the running configuration stays, the error is logged with every problem, and
``vsxi_xivo_exporter_config_last_reload_successful`` drops to 0 until a good file is loaded. A bad inventory
file keeps its own last good targets. Either way the engine restarts only the targets whose definition changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from exporter.config import Config
from exporter.configfile import ConfigError
from exporter.engine import Engine, ReloadResult
from exporter.inventory import Inventory
from exporter.logs import log

logger = logging.getLogger("exporter.reload")


class Reloader:
    """``load()`` reads the configuration file; ``compose(config)`` adds the inventory's targets (and keeps a
    shard's share): what the engine runs."""

    def __init__(self, engine: Engine, load: Callable[[], Config], config: Config | None = None,
                 inventory: Inventory | None = None, compose: Callable[[Config], Config] | None = None):
        self.engine = engine
        self.load = load
        self.config = config  # the configuration file as last applied (without the inventory)
        self.inventory = inventory or Inventory()
        self.compose = compose or (lambda c: c)
        self._lock = asyncio.Lock()
        self._shown: set[str] = set()  # inventory files with series exported
        engine.metrics.reload_successful.set(1)
        engine.metrics.reload_timestamp.set(time.time())
        self._show_inventory()

    async def __call__(self) -> ReloadResult:
        """Apply the file; raises ConfigError (nothing changed) when it is invalid."""
        async with self._lock:  # two SIGHUPs in a row apply one after the other
            try:
                config = self.load()
            except ConfigError as exc:
                self.engine.metrics.reload_successful.set(0)
                log(logger, logging.ERROR, "configuration reload failed; keeping the running configuration",
                    problems="; ".join(exc.problems))
                raise
            # Every inventory file again: the profiles they name may have changed.
            await asyncio.get_running_loop().run_in_executor(None, self.inventory.scan, config, True)
            self.config = config
            self._show_inventory()
            changes = await self.engine.reload(self.compose(config))
            self.engine.metrics.reload_successful.set(1)
            self.engine.metrics.reload_timestamp.set(time.time())
            log(logger, logging.INFO, "configuration reloaded", **dict(changes.lines()))
            return changes

    async def refresh_inventory(self) -> ReloadResult | None:
        """Read the inventory files that changed since the last look; apply them if their targets changed."""
        if self.config is None or not self.config.inventory_files:
            return None
        async with self._lock:
            config = self.config
            changed = await asyncio.get_running_loop().run_in_executor(None, self.inventory.scan, config, False)
            self._show_inventory()
            if not changed:
                return None
            changes = await self.engine.reload(self.compose(config))
            log(logger, logging.INFO, "inventory applied", **dict(changes.lines()))
            return changes

    async def watch_inventory(self) -> None:
        """Until cancelled: the inventory checked every ``inventory.refresh_interval``."""
        while True:
            await asyncio.sleep(self.config.inventory_refresh if self.config else 5.0)
            try:
                await self.refresh_inventory()
            except Exception:  # a bug must not end the watch for good
                logger.exception("inventory refresh crashed")

    def _show_inventory(self) -> None:
        metrics = self.engine.metrics
        for path, state in self.inventory.files.items():
            metrics.inventory_ok.labels(path).set(1 if state.ok else 0)
            metrics.inventory_targets.labels(path).set(len(state.targets))
        for gone in self._shown - set(self.inventory.files):  # a file removed: its series go
            metrics.inventory_ok.remove(gone)
            metrics.inventory_targets.remove(gone)
        self._shown = set(self.inventory.files)

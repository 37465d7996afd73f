"""Reloading the configuration without a restart: SIGHUP or ``POST /-/reload``, as Prometheus does.

A bad file changes nothing: the running configuration stays, the error is logged with every problem, and
``vsxi_xivo_exporter_config_last_reload_successful`` drops to 0 until a good file is loaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from exporter.config import Config, ConfigError
from exporter.engine.engine import Engine, ReloadResult
from exporter.logs import log

logger = logging.getLogger("exporter.reload")


class Reloader:
    def __init__(self, engine: Engine, load: Callable[[], Config]):
        self.engine = engine
        self.load = load
        self._lock = asyncio.Lock()
        engine.metrics.reload_successful.set(1)
        engine.metrics.reload_timestamp.set(time.time())

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
            changes = await self.engine.reload(config)
            self.engine.metrics.reload_successful.set(1)
            self.engine.metrics.reload_timestamp.set(time.time())
            log(logger, logging.INFO, "configuration reloaded", **dict(changes.lines()))
            return changes

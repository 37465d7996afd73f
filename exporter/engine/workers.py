"""Where answers are parsed: never on the event loop, and off the main process when it can be.

json.loads and lxml hold the GIL while they work: parsed in a thread, a 33 MB sub_stats answer stalled the
event loop for ~0.8 s (bench/benchmark.py), and a 1,000-SBC fleet's small answers kept the loop waiting for
the GIL (bench/fleet.py: /probe p99 ~28 ms, /metrics 1.3 s). So:

* small answers (up to 1 MiB, a normal SBC's) go to ``PipeWorkers``: worker processes fed through a pipe,
  ~130 us of the main process's CPU per answer, the parsing itself on another core;
* large ones to a ``ProcessPoolExecutor``, started on the first large answer: its queue sends a 100 MB body
  without blocking the loop, and its hand-off cost does not matter beside such a parse;
* a thread when there are no worker processes (``processes=0``) or until they have started.

Only the rendered exposition bytes and a few counts come back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from exporter.engine.pipeworkers import PipeWorkers

LARGE_BODY_BYTES = 1 << 20
DEFAULT_PROCESSES = max(1, min(4, os.cpu_count() or 1))


class ParseWorkers:
    def __init__(self, processes: int = DEFAULT_PROCESSES, large_body_bytes: int = LARGE_BODY_BYTES):
        # One thread: two GIL-bound parsers never run at once anyway, they only make the event loop wait
        # longer for the GIL (bench/fleet.py: /probe p99 26 ms with two, 17 ms with one, same CPU).
        self.threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
        self.processes = processes
        self.large_body_bytes = large_body_bytes
        self._pool: ProcessPoolExecutor | None = None
        self.small = PipeWorkers(processes)

    async def start(self) -> None:
        """Start the small-answer workers (in a thread); until then, answers are parsed in a thread."""
        if self.processes:
            await self.small.start()

    def _process_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
            self._pool = ProcessPoolExecutor(max_workers=self.processes,
                                             mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _warm(self) -> None:
        pool = self._process_pool()
        # Concurrent jobs so that every worker process is spawned now, here in a thread, rather than later
        # on the event loop's thread when the first large answer arrives (a spawn stalls the loop ~0.1 s).
        for future in [pool.submit(time.sleep, 0.05) for _ in range(self.processes)]:
            future.result()

    async def warm(self) -> None:
        if self.processes and self._pool is None:
            await asyncio.get_running_loop().run_in_executor(self.threads, self._warm)

    async def run(self, fn: Callable[..., Any], *args: Any, size: int) -> Any:
        loop = asyncio.get_running_loop()
        if size < self.large_body_bytes or self.processes == 0:
            if self.small.ready:
                return await self.small.submit(fn, *args)
            return await loop.run_in_executor(self.threads, fn, *args)
        if self._pool is None:
            # Started on the first large answer, not at start-up: a fleet of normal SBCs never needs them
            # (each costs ~30 MB of RSS), and spawning happens in a thread, not on the loop.
            await self.warm()
        try:
            return await loop.run_in_executor(self._process_pool(), fn, *args)
        except BrokenProcessPool:
            # A worker died (OOM killer, ...): start a new pool next time; this answer counts as failed.
            self._pool = None
            raise

    def shutdown(self) -> None:
        self.small.shutdown()
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

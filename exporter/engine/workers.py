"""Where answers are parsed: small ones in a thread, large ones in a worker process.

json.loads and lxml hold the GIL while they work: on a 33 MB sub_stats answer that stalled the event loop
for ~0.8 s in a thread (bench/benchmark.py), delaying scrapes. A worker process removes the stall; only the
rendered exposition bytes come back. Small answers stay in a thread: a process hop costs ~600 us of CPU per
answer against ~85 us for a thread hop (bench/fleet.py prints both), more than parsing a small answer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

LARGE_BODY_BYTES = 1 << 20


class ParseWorkers:
    def __init__(self, processes: int = 2, large_body_bytes: int = LARGE_BODY_BYTES):
        # One thread: two GIL-bound parsers never run at once anyway, they only make the event loop wait
        # longer for the GIL (bench/fleet.py: /probe p99 26 ms with two, 17 ms with one, same CPU).
        self.threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
        self.processes = processes
        self.large_body_bytes = large_body_bytes
        self._pool: ProcessPoolExecutor | None = None

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
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

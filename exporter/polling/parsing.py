"""Where answers are parsed: never on the event loop, and off the main process when it can be.

json.loads and lxml hold the GIL while they work: parsed in a thread, a 33 MB sub_stats answer stalled the
event loop for ~0.8 s (bench/benchmark.py), and a 1,000-SBC fleet's small answers kept the loop waiting for
the GIL (bench/fleet.py: /probe p99 ~28 ms, /metrics 1.3 s). So:

* answers go to ``WorkerPool``: worker processes fed through pipes, the parsing on another core; those
  read whole (up to 1 MiB, a normal SBC's) in one job per target's round (exporter.polling.poller), larger
  ones chunk by chunk as they arrive, so the memory they take is bounded by a few chunks, not by the answer;
* a thread when there are no worker processes (``processes=0``) or until they have started.

Only the rendered exposition bytes and a few counts come back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exporter.bodystream import HEAD_BYTES, BodyStream
from exporter.httpclient import StreamedBody
from exporter.polling.workerpool import WorkerPool

DEFAULT_PROCESSES = max(1, min(4, os.cpu_count() or 1))


class ParseWorkers:
    def __init__(self, processes: int = DEFAULT_PROCESSES):
        # One thread: two GIL-bound parsers never run at once anyway, they only make the event loop wait
        # longer for the GIL (bench/fleet.py: /probe p99 26 ms with two, 17 ms with one, same CPU).
        self.threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
        self.processes = processes
        self.pool = WorkerPool(processes)

    async def start(self) -> None:
        """Start the small-answer workers (in a thread); until then, answers are parsed in a thread."""
        if self.processes:
            await self.pool.start()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` for an answer read whole."""
        if self.pool.ready:
            return await self.pool.submit(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self.threads, fn, *args)

    async def stream(self, fn: Callable[..., Any], args: tuple, body: StreamedBody, reservation=None) -> Any:
        """``fn(*args, BodyStream)`` for an answer read as it arrives; ``body`` is closed when done."""
        if self.pool.ready:
            return await self.pool.stream(fn, args, body, reservation)
        return await self._stream_in_thread(fn, args, body, reservation)

    async def _stream_in_thread(self, fn: Callable[..., Any], args: tuple, body: StreamedBody,
                                reservation) -> Any:
        loop = asyncio.get_running_loop()
        previous = 0

        def next_chunk() -> bytes:  # in the parse thread: each chunk read on the loop
            nonlocal previous
            if reservation is not None and previous:
                loop.call_soon_threadsafe(reservation.give, previous)
            chunk = asyncio.run_coroutine_threadsafe(body.next_chunk(), loop).result()
            previous = len(chunk)
            return chunk

        try:
            head = await body.head(HEAD_BYTES)
            return await loop.run_in_executor(self.threads, lambda: fn(*args, BodyStream(head, next_chunk)))
        finally:
            body.close()

    def shutdown(self) -> None:
        self.pool.shutdown()
        self.threads.shutdown(wait=False, cancel_futures=True)

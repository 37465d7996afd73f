"""Parse worker processes for a fleet's many small answers: a pipe each, one job in flight each.

A fleet's parsing is most of the exporter's CPU. In a thread it competes with the event loop for the GIL, so
scrapes wait behind it; in ``concurrent.futures.ProcessPoolExecutor`` the hand-off alone costs ~450 us of the
main process's CPU per answer (pickling through a queue, a feeder thread and a manager thread), about what
parsing a small answer costs. Here the main process writes the job to an idle worker's pipe and the event
loop reads the result when the pipe is readable: ~130 us of the main process's CPU per answer (~220 us
in all, bench/fleet.py), and the parse runs on another core.

A worker that dies fails its job (the poll counts as a parser error) and is replaced; until the workers have
started (spawned in a thread at start-up), jobs run in the caller's fallback.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger("exporter.workers")


class WorkerDied(Exception):
    """The worker process parsing this answer exited (killed, out of memory)."""


def _serve(conn: Connection) -> None:
    """A worker's life: run jobs until the pipe closes. The exporter decides when it stops: signals sent to
    the whole process group (Ctrl-C, a terminal's hang-up) are the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            job_id, fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = (job_id, True, fn(*args))
        except Exception as exc:  # noqa: BLE001 - every error goes back to the poller, which classifies it
            result = (job_id, False, exc)
        try:
            conn.send(result)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
            conn.send((job_id, False, RuntimeError(f"{type(exc).__name__} in a parse worker")))


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext):
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child,), name="parse-worker", daemon=True)
        self.process.start()
        child.close()
        self.job: tuple[int, asyncio.Future] | None = None


class PipeWorkers:
    def __init__(self, count: int):
        self.count = count
        self.ready = False
        self._context = multiprocessing.get_context("spawn")  # never fork a process running threads
        self._workers: list[_Worker] = []
        self._idle: deque[_Worker] = deque()
        self._pending: deque[tuple[Callable, tuple, asyncio.Future]] = deque()
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def start(self) -> None:
        """Spawn the workers (in a thread: a spawn imports the exporter, ~0.3 s each)."""
        self._loop = asyncio.get_running_loop()
        for _ in range(self.count):
            self._add(await self._loop.run_in_executor(None, _Worker, self._context))
        self.ready = not self._closed

    def _add(self, worker: _Worker) -> None:
        if self._closed:
            self._stop(worker)
            return
        self._workers.append(worker)
        self._loop.add_reader(worker.conn.fileno(), self._on_result, worker)
        self._idle.append(worker)
        self._dispatch()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        future = self._loop.create_future()
        self._pending.append((fn, args, future))
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        while self._idle and self._pending:
            fn, args, future = self._pending.popleft()
            if future.done():  # the poller was cancelled meanwhile
                continue
            worker = self._idle.popleft()
            job_id = next(self._ids)
            try:
                # The worker is idle, blocked reading its pipe: the write does not wait on a busy parser.
                worker.conn.send((job_id, fn, args))
            except (OSError, ValueError):
                worker.job = (job_id, future)
                self._died(worker)
                continue
            worker.job = (job_id, future)

    def _on_result(self, worker: _Worker) -> None:
        try:
            job_id, ok, value = worker.conn.recv()
        except (EOFError, OSError):
            self._died(worker)
            return
        _, future = worker.job
        worker.job = None
        self._idle.append(worker)
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._dispatch()

    def _died(self, worker: _Worker) -> None:
        self._loop.remove_reader(worker.conn.fileno())
        self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.job is not None and not worker.job[1].done():
            worker.job[1].set_exception(WorkerDied(f"parse worker exited with code {worker.process.exitcode}"))
        self._stop(worker)
        if not self._closed:
            logger.warning("parse worker exited; starting another",
                           extra={"fields": {"exitcode": worker.process.exitcode}})
            replacement = self._loop.run_in_executor(None, _Worker, self._context)
            replacement.add_done_callback(lambda f: self._add(f.result()) if not f.exception() else None)

    @staticmethod
    def _stop(worker: _Worker) -> None:
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.terminate()
        worker.process.join(timeout=1)

    def shutdown(self) -> None:
        self._closed = True
        self.ready = False
        for worker in self._workers:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(worker.conn.fileno())
            if worker.job is not None and not worker.job[1].done():
                worker.job[1].cancel()
            self._stop(worker)
        self._workers.clear()
        self._idle.clear()
        for _, _, future in self._pending:
            future.cancel()
        self._pending.clear()

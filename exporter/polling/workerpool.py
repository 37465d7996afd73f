"""Parse worker processes fed through pipes: answers read whole, and large answers chunk by chunk.

A fleet's parsing is most of the exporter's CPU. In a thread it competes with the event loop for the GIL, so
scrapes wait behind it; in ``concurrent.futures.ProcessPoolExecutor`` the hand-off alone costs ~450 us of the
main process's CPU per answer (pickling through a queue, a feeder thread and a manager thread), about what
parsing a small answer costs. Here the main process writes a job to a worker's pipe and the event loop reads
the result as it arrives (bench/fleet.py measures the hand-off).

A large answer (100k registrations are ~44 MB of XML) is never read whole: the poller sends its chunks as
they come off the socket and reads the next only when the worker's parser has taken an earlier one (``CREDITS``
chunks in flight per answer). The main process holds a few chunks per answer, the worker its parser's state
(rows are dropped as they are read, by the families' streaming parsers): twelve devices answering endless
bodies or gzip bombs no longer hold ``max_response_bytes`` each. A worker reads each streamed answer in a
thread of its own (one trickling in for its whole timeout must not hold up the others) and answers read whole
in its main thread.

The frames (exporter.polling.workerframes) are in multiprocessing's own format (``Connection.recv_bytes`` on
the worker's side, which is exporter.polling.workerprocess), written and read on the main side through asyncio
pipe transports, so the event loop never blocks on a pipe.

A worker that dies fails the answers it was reading (each poll counts a parser error) and is replaced.
Workers import only what the jobs need: ~30 MB each. They are started as plain child processes (``python -c``
with the two pipe ends passed down), not through ``multiprocessing``: its spawn start method also starts a
resource tracker, one more interpreter (~15 MB) that watches semaphores and shared memory this exporter never
creates.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from exporter.bodystream import HEAD_BYTES
from exporter.httpclient import StreamedBody
from exporter.polling import workerframes as frames
from exporter.polling.workerframes import HEADER, JOB, LENGTH

logger = logging.getLogger("exporter.workers")

CREDITS = 4  # chunks (~64 KiB each) sent and not yet taken by the parser, per streamed answer


class WorkerDied(Exception):
    """The worker process parsing this answer exited (killed, out of memory)."""


class _Job:
    def __init__(self, loop: asyncio.AbstractEventLoop, reservation=None, streamed: bool = False):
        self.future: asyncio.Future = loop.create_future()
        self.sizes: list[int] = []  # streamed chunks sent and not yet taken
        # Set when the parser takes a streamed chunk (or the job ends); an answer sent whole needs none.
        self.taken = asyncio.Event() if streamed else None
        self.reservation = reservation

    def wake(self) -> None:
        if self.taken is not None:
            self.taken.set()


class _Frames(asyncio.Protocol):
    """Frames from one worker, cut as they arrive (never a blocking read on the loop)."""

    def __init__(self, worker: _Worker):
        self.worker = worker
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 4:
            n = LENGTH.unpack_from(self.buffer)[0]
            if len(self.buffer) < 4 + n:
                return
            frame = bytes(self.buffer[4:4 + n])
            del self.buffer[:4 + n]
            self.worker.on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.on_exit()


# A worker's bootstrap: this process's import path (as multiprocessing's spawn passes it), so that it imports the
# same exporter, installed or from a checkout, and whatever module a job's function lives in.
_BOOT = "import sys; sys.path[:] = {path!r}; from exporter.polling.workerprocess import serve_fds; serve_fds({fds})"


PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: a whole answer, or a rendered table, in one write


def _widen(fd: int) -> None:
    """Grow a pipe from 64 KiB so that an answer is written in one call, not a write, a wait for the worker
    to read and the rest from the event loop (its pages are taken only as they fill)."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or a lowered fs.pipe-max-size: 64 KiB works too
        pass


class _Worker:
    def __init__(self):
        inbox, to_worker = os.pipe()
        from_worker, outbox = os.pipe()
        _widen(to_worker)
        _widen(from_worker)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(path=sys.path, fds=f"{inbox}, {outbox}")],
                pass_fds=(inbox, outbox), stdin=subprocess.DEVNULL)
        except BaseException:
            for fd in (to_worker, from_worker):
                os.close(fd)
            raise
        finally:
            os.close(inbox)
            os.close(outbox)
        self._inbox = open(to_worker, "wb", buffering=0)  # noqa: SIM115 - the write transport closes it
        self._outbox = open(from_worker, "rb", buffering=0)  # noqa: SIM115 - the read transport closes it
        self.jobs: dict[int, _Job] = {}
        self.alive = True
        self.on_death: Callable[[_Worker], None] = lambda worker: None
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None

    async def connect(self, loop: asyncio.AbstractEventLoop) -> None:
        self._writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, self._inbox)
        self._reader, _ = await loop.connect_read_pipe(lambda: _Frames(self), self._outbox)

    def send(self, kind: bytes, job: int, payload: bytes = b"") -> None:
        if self.alive and not self._writer.is_closing():
            self._writer.write(LENGTH.pack(HEADER + len(payload)) + frames.header(kind, job) + payload)

    def on_frame(self, frame: bytes) -> None:
        job = self.jobs.get(JOB.unpack_from(frame, 1)[0])
        if job is None:
            return
        if frame[:1] == frames.TAKEN:
            if job.sizes:
                n = job.sizes.pop(0)
                if job.reservation is not None:
                    job.reservation.give(n)
        elif not job.future.done():
            ok, value = pickle.loads(frame[HEADER:])  # noqa: S301 - from the exporter's own worker process
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        job.wake()

    def on_exit(self) -> None:
        if not self.alive:
            return
        self.alive = False
        for job in self.jobs.values():
            if not job.future.done():
                job.future.set_exception(WorkerDied(f"parse worker exited with code {self.process.poll()}"))
            job.wake()
        self.on_death(self)

    def stop(self) -> None:
        self.alive = False
        for transport, pipe in ((self._writer, self._inbox), (self._reader, self._outbox)):
            (pipe if transport is None else transport).close()  # a transport closes its pipe
        # A worker ignores SIGTERM (signals to the whole process group are the main process's, see
        # exporter.polling.workerprocess) and holds nothing to save: SIGKILL, at once (the pipes' transports close
        # their ends only on the event loop's next turn, so waiting for it to read the end would wait in vain).
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class WorkerPool:
    def __init__(self, count: int):
        self.count = count
        self.ready = False
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spawning: set[asyncio.Future] = set()
        self._closed = False

    async def start(self) -> None:
        """Start the workers (in a thread: starting a process is a fork and an exec)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._spawn() for _ in range(self.count)))
        self.ready = bool(self._workers) and not self._closed

    async def _spawn(self) -> None:
        spawning = self._loop.run_in_executor(None, _Worker)
        self._spawning.add(spawning)
        try:
            worker = await asyncio.shield(spawning)
        finally:
            self._spawning.discard(spawning)
        if self._closed:
            worker.stop()
            return
        await worker.connect(self._loop)
        worker.on_death = self._died
        self._workers.append(worker)

    def _died(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        worker.stop()
        if not self._closed:
            logger.warning("parse worker exited; starting another",
                           extra={"fields": {"exitcode": worker.process.returncode}})
            self._loop.create_task(self._spawn())

    def _pick(self) -> _Worker:
        if not self._workers:
            raise WorkerDied("no parse worker running (a replacement is starting)")
        return min(self._workers, key=lambda w: len(w.jobs))

    async def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker. ``fn`` is pickled by name: a function of an importable module (a
        worker does not run the script this process started from)."""
        worker = self._pick()
        job_id = next(self._ids)
        job = worker.jobs[job_id] = _Job(self._loop)
        try:
            worker.send(frames.WHOLE, job_id, pickle.dumps((fn, args)))
            return await job.future
        finally:
            worker.jobs.pop(job_id, None)

    async def stream(self, fn: Callable[..., Any], args: tuple, body: StreamedBody, reservation=None) -> Any:
        """``fn(*args, BodyStream)`` in a worker, the body sent as it arrives. The head's bytes stay counted
        in ``reservation`` (given back by the poller); each later chunk is given back once the parser has
        taken it. ``body`` is closed when done."""
        try:
            worker = self._pick()
        except WorkerDied:
            body.close()
            raise
        job_id = next(self._ids)
        job = worker.jobs[job_id] = _Job(self._loop, reservation, streamed=True)
        try:
            worker.send(frames.OPEN, job_id, pickle.dumps((fn, args, await body.head(HEAD_BYTES))))
            while not job.future.done():
                chunk = await body.next_chunk()
                if not chunk:
                    worker.send(frames.END, job_id)
                    break
                job.sizes.append(len(chunk))
                while len(job.sizes) > CREDITS and not job.future.done():
                    job.taken.clear()
                    await job.taken.wait()
                if not job.future.done():
                    worker.send(frames.DATA, job_id, chunk)
            return await job.future
        finally:
            if not job.future.done():
                worker.send(frames.ABANDON, job_id)
                job.future.cancel()
            worker.jobs.pop(job_id, None)
            if reservation is not None:
                for n in job.sizes:  # read, never taken by the parser: dropped
                    reservation.give(n)
            job.sizes.clear()
            body.close()

    def shutdown(self) -> None:
        self._closed = True
        self.ready = False
        for spawning in self._spawning:
            spawning.add_done_callback(lambda f: f.cancelled() or f.exception() or f.result().stop())
        for worker in self._workers:
            for job in worker.jobs.values():
                if not job.future.done():
                    job.future.cancel()
                job.wake()
            worker.stop()
        self._workers.clear()

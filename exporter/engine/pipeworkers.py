"""Parse worker processes fed through pipes: answers read whole, and large answers chunk by chunk.

A fleet's parsing is most of the exporter's CPU. In a thread it competes with the event loop for the GIL, so
scrapes wait behind it; in ``concurrent.futures.ProcessPoolExecutor`` the hand-off alone costs ~450 us of the
main process's CPU per answer (pickling through a queue, a feeder thread and a manager thread), about what
parsing a small answer costs. Here the main process writes a job to a worker's pipe and the event loop reads
the result as it arrives (bench/fleet.py measures the hand-off).

A large answer (100k registrations are ~44 MB of XML) is never read whole: the poller sends its chunks as
they come off the socket and reads the next only when the worker's parser has taken an earlier one (``CREDITS``
chunks in flight per answer). The main process holds a few chunks per answer, the worker its parser's state
(rows are dropped as they are read, exporter.vsxi.wire): twelve devices answering endless bodies or gzip bombs
no longer hold ``max_response_bytes`` each. A worker reads each streamed answer in a thread of its own (one
trickling in for its whole timeout must not hold up the others) and answers read whole in its main thread.

Frames in multiprocessing's own format (``Connection.recv_bytes`` on the worker's side), written and read on
the main side through asyncio pipe transports, so the event loop never blocks on a pipe:

    to a worker:   W job pickle((fn, args))          an answer read whole: fn(*args)
                   O job pickle((fn, args, head))    a streamed one: fn(*args, BodyStream(head, ...))
                   D job bytes | E job | A job       its next chunk, its end, or abandon it
    from a worker: K job (a chunk taken)   R job pickle((ok, value))

A worker that dies fails the answers it was reading (each poll counts a parser error) and is replaced.
Workers import only what the jobs need (exporter/__main__.py imports the command line lazily): ~30 MB each.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import pickle
import queue
import signal
import struct
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from exporter.bodystream import HEAD_BYTES, BodyStream
from exporter.httpclient import StreamedBody

logger = logging.getLogger("exporter.workers")

CREDITS = 4  # chunks (~64 KiB each) sent and not yet taken by the parser, per streamed answer
_JOB = struct.Struct("!I")
_LENGTH = struct.Struct("!i")  # multiprocessing.connection's frame header


class WorkerDied(Exception):
    """The worker process parsing this answer exited (killed, out of memory)."""


class _Aborted(Exception):
    """The poller gave up on a streamed answer (timeout, connection lost, shutdown)."""


# --- in the worker process --------------------------------------------------------------------------------


def _result(ok: bool, value: Any) -> bytes:
    try:
        return pickle.dumps((ok, value))
    except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__} in a parse worker")))


def _serve(inbox: Connection, outbox: Connection) -> None:
    """A worker's life: run jobs until the pipe closes. The exporter decides when it stops: signals sent to
    the whole process group (Ctrl-C, a terminal's hang-up) are the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    lock = threading.Lock()
    streams: dict[int, queue.SimpleQueue] = {}

    def send(frame: bytes) -> None:
        with lock:
            outbox.send_bytes(frame)

    def run(tag: bytes, fn: Callable, args: tuple) -> None:
        try:
            frame = _result(True, fn(*args))
        except _Aborted:
            return
        except Exception as exc:  # noqa: BLE001 - every error goes back to the poller, which classifies it
            frame = _result(False, exc)
        send(b"R" + tag + frame)

    def run_stream(tag: bytes, job: int, fn: Callable, args: tuple, head: bytes) -> None:
        chunks = streams[job]

        def next_chunk() -> bytes:
            chunk = chunks.get()
            if chunk is None:
                raise _Aborted
            if chunk:
                send(b"K" + tag)
            return chunk

        try:
            run(tag, fn, (*args, BodyStream(head, next_chunk)))
        finally:
            streams.pop(job, None)

    while True:
        try:
            frame = inbox.recv_bytes()
        except (EOFError, OSError):
            return
        kind, tag = frame[:1], frame[1:5]
        job = _JOB.unpack(tag)[0]
        if kind == b"W":
            fn, args = pickle.loads(frame[5:])  # noqa: S301 - from the exporter's own main process
            run(tag, fn, args)
        elif kind == b"O":
            fn, args, head = pickle.loads(frame[5:])  # noqa: S301 - as above
            streams[job] = queue.SimpleQueue()
            threading.Thread(target=run_stream, args=(tag, job, fn, args, head), daemon=True).start()
        elif job in streams:  # a parser that stopped early (an error) ignores the rest of its answer
            streams[job].put(frame[5:] if kind == b"D" else b"" if kind == b"E" else None)


# --- in the main process ----------------------------------------------------------------------------------


class _Job:
    def __init__(self, loop: asyncio.AbstractEventLoop, reservation=None):
        self.future: asyncio.Future = loop.create_future()
        self.sizes: list[int] = []  # streamed chunks sent and not yet taken
        self.taken = asyncio.Event()
        self.reservation = reservation


class _Frames(asyncio.Protocol):
    """Frames from one worker, cut as they arrive (never a blocking read on the loop)."""

    def __init__(self, worker: _Worker):
        self.worker = worker
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 4:
            n = _LENGTH.unpack_from(self.buffer)[0]
            if len(self.buffer) < 4 + n:
                return
            frame = bytes(self.buffer[4:4 + n])
            del self.buffer[:4 + n]
            self.worker.on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.on_exit()


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext):
        inbox, self._inbox = context.Pipe(duplex=False)
        self._outbox, outbox = context.Pipe(duplex=False)
        self.process = context.Process(target=_serve, args=(inbox, outbox), name="parse-worker", daemon=True)
        self.process.start()
        inbox.close()
        outbox.close()
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
            self._writer.write(_LENGTH.pack(5 + len(payload)) + kind + _JOB.pack(job) + payload)

    def on_frame(self, frame: bytes) -> None:
        job = self.jobs.get(_JOB.unpack_from(frame, 1)[0])
        if job is None:
            return
        if frame[:1] == b"K":
            if job.sizes:
                n = job.sizes.pop(0)
                if job.reservation is not None:
                    job.reservation.give(n)
        elif not job.future.done():
            ok, value = pickle.loads(frame[5:])  # noqa: S301 - from the exporter's own worker process
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        job.taken.set()

    def on_exit(self) -> None:
        if not self.alive:
            return
        self.alive = False
        for job in self.jobs.values():
            if not job.future.done():
                job.future.set_exception(WorkerDied(f"parse worker exited with code {self.process.exitcode}"))
            job.taken.set()
        self.on_death(self)

    def stop(self) -> None:
        self.alive = False
        for transport in (self._writer, self._reader):
            if transport is not None:
                transport.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=1)


class PipeWorkers:
    def __init__(self, count: int):
        self.count = count
        self.ready = False
        self._context = multiprocessing.get_context("spawn")  # never fork a process running threads
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spawning: set[asyncio.Future] = set()
        self._closed = False

    async def start(self) -> None:
        """Spawn the workers (in a thread: a spawn imports the parsers, ~0.3 s each)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._spawn() for _ in range(self.count)))
        self.ready = bool(self._workers) and not self._closed

    async def _spawn(self) -> None:
        spawning = self._loop.run_in_executor(None, _Worker, self._context)
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
                           extra={"fields": {"exitcode": worker.process.exitcode}})
            self._loop.create_task(self._spawn())

    def _pick(self) -> _Worker:
        if not self._workers:
            raise WorkerDied("no parse worker running (a replacement is starting)")
        return min(self._workers, key=lambda w: len(w.jobs))

    async def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker."""
        worker = self._pick()
        job_id = next(self._ids)
        job = worker.jobs[job_id] = _Job(self._loop)
        try:
            worker.send(b"W", job_id, pickle.dumps((fn, args)))
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
        job = worker.jobs[job_id] = _Job(self._loop, reservation)
        try:
            worker.send(b"O", job_id, pickle.dumps((fn, args, await body.head(HEAD_BYTES))))
            while not job.future.done():
                chunk = await body.next_chunk()
                if not chunk:
                    worker.send(b"E", job_id)
                    break
                job.sizes.append(len(chunk))
                while len(job.sizes) > CREDITS and not job.future.done():
                    job.taken.clear()
                    await job.taken.wait()
                if not job.future.done():
                    worker.send(b"D", job_id, chunk)
            return await job.future
        finally:
            if not job.future.done():
                worker.send(b"A", job_id)
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
                job.taken.set()
            worker.stop()
        self._workers.clear()

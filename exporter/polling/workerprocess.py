"""A parse worker process's side of exporter.polling.workerpool: run the jobs its pipe brings, answer on the other.

Imports only what running a job needs (the job's own module comes with its pickled function): no asyncio, no
aiohttp, so each worker is Python, lxml and the parsers (~30 MB).
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from exporter.bodystream import BodyStream
from exporter.polling.workerframes import DATA, END, HEADER, JOB, OPEN, RESULT, TAKEN, WHOLE

# Parse workers yield the CPU to the main process, whose event loop answers scrapes: a round's answers are
# parsed in one job (exporter.polling.poller), and the rounds of a slot end together, so on a busy machine both
# workers can hold both cores for a while. bench/fleet.py at 2,000 SBCs on 2 cores, /probe p99: 30.6 and 32.1 ms
# at nice 0, 20.2 at nice 5, 7.8 at nice 10 (16.4 with one job per table). Idle cores still go to the workers:
# what it costs is latency of the polls on a saturated machine, never CPU.
NICE = 10


class _Aborted(Exception):
    """The poller gave up on a streamed answer (timeout, connection lost, shutdown)."""


def _result(ok: bool, value: Any) -> bytes:
    try:
        return pickle.dumps((ok, value))
    except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__} in a parse worker")))


def serve_fds(inbox: int, outbox: int) -> None:
    """A worker process's entry point (see ``_Worker``): the pipe ends it inherited, by descriptor."""
    _serve(Connection(inbox, writable=False), Connection(outbox, readable=False))


def _serve(inbox: Connection, outbox: Connection) -> None:
    """A worker's life: run jobs until the pipe closes. The exporter decides when it stops: signals sent to
    the whole process group (Ctrl-C, a terminal's hang-up, the SIGTERM systemd sends to every process of a
    unit it stops, as `timeout` and some container runtimes do) are the main process's to handle: it closes
    the pipe, and the worker ends at its end. (A worker killed on the way out was taken for a crash: "parse
    worker exited; starting another", while the exporter was stopping.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.nice(NICE)
    except OSError:  # not permitted (a hardened sandbox): the same work, at the same priority
        pass
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
        send(RESULT + tag + frame)

    def run_stream(tag: bytes, job: int, fn: Callable, args: tuple, head: bytes) -> None:
        chunks = streams[job]

        def next_chunk() -> bytes:
            chunk = chunks.get()
            if chunk is None:
                raise _Aborted
            if chunk:
                send(TAKEN + tag)
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
        kind, tag = frame[:1], frame[1:HEADER]
        job = JOB.unpack(tag)[0]
        if kind in (WHOLE, OPEN):
            try:  # a job this worker cannot load (its function not importable here) fails alone
                loaded = pickle.loads(frame[HEADER:])  # noqa: S301 - from the exporter's own main process
            except Exception as exc:  # noqa: BLE001
                send(RESULT + tag + _result(False, RuntimeError(f"parse worker cannot load the job: {exc}")))
                continue
        if kind == WHOLE:
            fn, args = loaded
            run(tag, fn, args)
        elif kind == OPEN:
            fn, args, head = loaded
            streams[job] = queue.SimpleQueue()
            threading.Thread(target=run_stream, args=(tag, job, fn, args, head), daemon=True).start()
        elif job in streams:  # a parser that stopped early (an error) ignores the rest of its answer
            streams[job].put(frame[HEADER:] if kind == DATA else b"" if kind == END else None)

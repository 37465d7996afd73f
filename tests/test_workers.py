"""Answers are parsed in worker processes, whole or streamed; results and errors cross the boundary intact."""

import asyncio
import os

import pytest
from conftest import fixture

from exporter.polling.parsing import ParseWorkers
from exporter.vsxi.collectors import parse_and_build
from exporter.vsxi.wire import PayloadError


async def test_process_and_thread_paths_agree():
    processes = ParseWorkers()
    await processes.start()
    threads = ParseWorkers(processes=0)
    try:
        body = fixture("sub_stats.old.xml")
        in_process = await processes.run(parse_and_build, "sub_stats", "sbc-1", body)
        in_thread = await threads.run(parse_and_build, "sub_stats", "sbc-1", body)
        assert in_process.chunk == in_thread.chunk and in_process.samples > 0  # the same rendered bytes
        assert in_process == in_thread
        with pytest.raises(PayloadError) as err:
            await processes.run(parse_and_build, "realtime", "sbc-1", b"{}")
        assert err.value.reason == "degenerate_payload" and "empty JSON object" in str(err.value)
    finally:
        processes.shutdown()
        threads.shutdown()


async def test_a_worker_is_a_plain_child_that_imports_only_the_parsers():
    """Workers are this process's own children (no multiprocessing resource tracker beside them), niced below
    it, and never import the HTTP stack: each is Python, lxml and the parsers."""
    from exporter.polling.workerpool import WorkerPool

    workers = WorkerPool(1)
    await workers.start()
    try:
        body = fixture("realtime.new.json")
        assert (await workers.submit(parse_and_build, "realtime", "sbc-1", body)).samples > 50
        modules = set(await workers.submit(eval, "sorted(__import__('sys').modules)"))
        assert {"exporter.vsxi.metrics", "lxml.etree"} <= modules
        assert not modules & {"aiohttp", "asyncio", "yaml", "exporter.httpclient", "exporter.polling.workerpool"}
        (worker,) = workers._workers  # noqa: SLF001
        with open(f"/proc/{worker.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        assert int(fields[1]) == os.getpid()  # its parent: this process
        # It yields the CPU to this process (the event loop that answers scrapes): nice 10 above it.
        assert int(fields[16]) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        with open(f"/proc/{worker.process.pid}/cmdline", "rb") as cmdline:
            assert b"exporter.polling.workerprocess" in cmdline.read()
    finally:
        workers.shutdown()


async def test_a_job_a_worker_cannot_load_fails_alone_and_the_worker_stays():
    """A function the worker cannot import (defined only in this process) fails that job with a clear error;
    the same worker then parses the next answer (it used to die on it, and be replaced, every time)."""
    import sys
    import types

    from exporter.polling.workerpool import WorkerPool

    module = types.ModuleType("only_in_the_main_process")
    exec("def parse(body):\n    return len(body)\n", module.__dict__)  # noqa: S102 - a test's own code
    sys.modules[module.__name__] = module
    workers = WorkerPool(1)
    await workers.start()
    try:
        (worker,) = workers._workers  # noqa: SLF001
        with pytest.raises(RuntimeError, match="cannot load the job: No module named 'only_in_the_main_process'"):
            await workers.submit(module.parse, b"x")
        assert (await workers.submit(parse_and_build, "realtime", "sbc-1", fixture("realtime.old.xml"))).samples > 50
        assert workers._workers == [worker] and worker.process.poll() is None  # noqa: SLF001
    finally:
        workers.shutdown()
        del sys.modules[module.__name__]


async def test_pipe_workers_parse_like_a_thread_and_survive_a_dead_worker(tmp_path):
    import os
    import signal

    from exporter.polling.workerpool import WorkerDied, WorkerPool

    threads = ParseWorkers(processes=0)
    workers = WorkerPool(1)
    await workers.start()
    try:
        body = fixture("realtime.old.xml")
        expected = await threads.run(parse_and_build, "realtime", "sbc-1", body)
        results = [await workers.submit(parse_and_build, "realtime", "sbc-1", body) for _ in range(3)]
        assert all(r == expected for r in results) and expected.samples > 50
        with pytest.raises(PayloadError) as err:
            await workers.submit(parse_and_build, "realtime", "sbc-1", b"<html>proxy</html>")
        assert err.value.reason == "degenerate_payload"

        (worker,) = workers._workers  # noqa: SLF001
        started = tmp_path / "started"
        job = asyncio.ensure_future(workers.submit(sleep_after_saying_so, str(started), 600))
        await until(started.exists, "the job to start in the worker")
        os.kill(worker.process.pid, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            await asyncio.wait_for(job, 30)
        # A replacement is started; the next answers are parsed by it.
        await until(lambda: workers._workers, "a replacement worker")  # noqa: SLF001
        assert await workers.submit(parse_and_build, "realtime", "sbc-1", body) == expected
        assert workers._workers[0].process.pid != worker.process.pid  # noqa: SLF001
    finally:
        workers.shutdown()
        threads.shutdown()


async def test_engine_parses_in_worker_processes_once_started(aiohttp_server):
    from helpers import make_engine, make_target

    _, target = await make_target(aiohttp_server, collectors=["realtime", "sub_stats"])
    engine = make_engine(target)
    await engine.workers.start()
    try:
        assert engine.workers.pool.ready
        await engine.poll_once()
        state = engine.states["sbc-1"]
        assert all(c.success and c.samples > 0 for c in state.collectors.values())
        pids = {w.process.pid for w in engine.workers.pool._workers}  # noqa: SLF001
        assert pids and all(pid != os.getpid() for pid in pids)
    finally:
        await engine.stop()
    assert not engine.workers.pool._workers  # noqa: SLF001 - stopped with the engine


def sleep_after_saying_so(path: str, seconds: float) -> None:
    """A job that creates ``path`` once it runs in the worker, then sleeps: the test kills the worker while
    it is known to be inside the job (no race with a fixed sleep)."""
    import pathlib
    import time

    pathlib.Path(path).touch()
    time.sleep(seconds)


async def until(check, what: str, timeout: float = 30.0):
    """Polls ``check`` until it is true, with a generous deadline: synchronisation on a condition, never on a
    fixed sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := check()):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return result


# --- large answers streamed into a worker as they arrive ----------------------------------------------------


async def _serve_body(aiohttp_server, body: bytes, gate: asyncio.Event | None = None, **headers):
    """Serves ``body`` in 64 kB chunks; with ``gate``, the second half only once the gate is set."""
    from aiohttp import web

    async def handler(request):
        response = web.StreamResponse(headers={"Content-Type": "application/xml", **headers})
        await response.prepare(request)  # chunked: the length is not known up front
        for i in range(0, len(body), 1 << 16):
            if gate is not None and i >= len(body) // 2:
                await gate.wait()
            await response.write(body[i:i + (1 << 16)])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/SSConfig/webresources/stats/{table}", handler)
    server = await aiohttp_server(app)
    from exporter.vsxi.config import VsxiTarget

    return VsxiTarget(name="big", url=str(server.make_url("")).rstrip("/"), username="u", password="p",
                      interval=60.0, timeout=20.0)


def _large_sub_stats(fmt: str) -> bytes:
    from exporter.simulator.vsxi_model import Scale, VsxiModel
    from exporter.simulator.vsxi_render import render

    model = VsxiModel(Scale(trunks=50, registrations=30_000), clock=lambda: 1_800_000_000.0)
    return render(model.answer("sub_stats"), fmt)


@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_a_large_answer_is_parsed_as_it_arrives_holding_a_few_chunks(aiohttp_server, fmt):
    from exporter.budget import ByteBudget, Reservation, holding
    from exporter.httpclient import StreamedBody
    from exporter.vsxi.client import VsxiClient

    body = _large_sub_stats(fmt)
    assert len(body) > 8 << 20
    target = await _serve_body(aiohttp_server, body)
    workers, threads = ParseWorkers(), ParseWorkers(processes=0)
    await workers.start()
    client = VsxiClient(target)
    try:
        expected = await threads.run(parse_and_build, "sub_stats", "big", body)
        for parser in (workers, threads):
            budget = ByteBudget(1 << 30)
            reservation = Reservation(budget)
            with holding(reservation):
                streamed = await client.fetch("sub_stats", fmt)
                assert isinstance(streamed, StreamedBody)
                assert await parser.stream(parse_and_build, ("sub_stats", "big"), streamed, reservation) == expected
            # The first MiB (the head) and a few chunks at most, never the answer.
            assert budget.high_water < (1 << 20) + 8 * (1 << 16) + (1 << 17), budget.high_water
            assert streamed.size == len(body)
            reservation.release()
            assert budget.used == 0
    finally:
        await client.close()
        workers.shutdown()
        threads.shutdown()


async def test_a_streamed_answer_that_fails_early_stops_being_read(aiohttp_server):
    from exporter.vsxi.client import VsxiClient

    body = b"<mysqldump>" + b"<database></database>" * 1_000_000  # 21 MB of the wrong document
    target = await _serve_body(aiohttp_server, body)
    workers = ParseWorkers()
    await workers.start()
    client = VsxiClient(target)
    try:
        streamed = await client.fetch("sub_stats", "xml")
        with pytest.raises(PayloadError) as err:
            await workers.stream(parse_and_build, ("sub_stats", "big"), streamed)
        assert err.value.reason == "degenerate_payload" and "<mysqldump>" in str(err.value)
        assert streamed.size < 4 << 20  # stopped soon after the head, not read to the end
    finally:
        await client.close()
        workers.shutdown()


async def test_a_worker_killed_mid_stream_fails_that_answer_and_is_replaced(aiohttp_server):
    import signal

    from exporter.polling.workerpool import WorkerDied
    from exporter.vsxi.client import VsxiClient

    body = _large_sub_stats("xml")
    gate = asyncio.Event()
    target = await _serve_body(aiohttp_server, body, gate)
    workers, threads = ParseWorkers(processes=1), ParseWorkers(processes=0)
    await workers.start()
    client = VsxiClient(target)
    try:
        expected = await threads.run(parse_and_build, "sub_stats", "big", body)
        (worker,) = workers.pool._workers  # noqa: SLF001
        streamed = await client.fetch("sub_stats", "xml")
        job = asyncio.ensure_future(workers.stream(parse_and_build, ("sub_stats", "big"), streamed))
        # The device holds back the second half: the job is mid-stream, whatever the machine's speed.
        await until(lambda: streamed.size >= len(body) // 4, "the first half to reach the worker")
        os.kill(worker.process.pid, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            await asyncio.wait_for(job, 30)
        gate.set()
        await until(lambda: workers.pool._workers, "a replacement worker")  # noqa: SLF001
        assert workers.pool._workers[0].process.pid != worker.process.pid  # noqa: SLF001
        streamed = await client.fetch("sub_stats", "xml")
        assert await workers.stream(parse_and_build, ("sub_stats", "big"), streamed) == expected
    finally:
        gate.set()
        await client.close()
        workers.shutdown()
        threads.shutdown()


@pytest.mark.parametrize("where", ["processes", "thread"])
async def test_a_parser_crash_fails_its_table_alone(where, aiohttp_server, caplog):
    """A round's answers are parsed in one job: a parser bug in one table (an exception, or one that cannot be
    pickled back from a worker) fails that table alone with parser_error, logged with the exception; the
    round's other tables succeed and the target is up."""
    import logging

    from helpers import make_engine, make_target, parse_or_crash

    _, target = await make_target(aiohttp_server, collectors=("realtime", "resource", "sip_stats", "media_server"))
    engine = make_engine(target)
    if where == "processes":
        await engine.workers.start()
    try:
        engine._build_pollers()  # noqa: SLF001 - one round, driven by the test
        poller = engine.pollers["sbc-1"]
        poller.parse = parse_or_crash
        with caplog.at_level(logging.ERROR, logger="exporter.poller"):
            await asyncio.wait_for(poller.poll_round(), 30)
        state = engine.states["sbc-1"]
        assert [c.collector for c in state.collectors.values() if c.success] == ["realtime", "media_server"]
        assert state.collectors["resource"].reason == "parser_error"
        assert state.collectors["resource"].error == "resource: parser error: KeyError"
        assert state.collectors["sip_stats"].reason == "parser_error"
        assert state.up
        crashes = [r for r in caplog.records if r.getMessage() == "parser crashed"]
        assert [r.fields["collector"] for r in crashes] == ["resource", "sip_stats"]
        assert isinstance(crashes[0].exc_info[1], KeyError)
        assert "Unpicklable" in str(crashes[1].exc_info[1])
    finally:
        await engine.stop()

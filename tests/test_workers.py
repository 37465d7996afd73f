"""Large answers are parsed in a worker process; results and errors cross the boundary intact."""

import asyncio
import os

import pytest
from conftest import fixture

from exporter.engine.workers import ParseWorkers
from exporter.vsxi.metrics import parse_and_build
from exporter.vsxi.wire import PayloadError


async def test_process_and_thread_paths_agree():
    processes = ParseWorkers(large_body_bytes=0)
    threads = ParseWorkers(processes=0)
    try:
        body = fixture("sub_stats.old.xml")
        in_process = await processes.run(parse_and_build, "sub_stats", "sbc-1", body, size=len(body))
        in_thread = await threads.run(parse_and_build, "sub_stats", "sbc-1", body, size=len(body))
        assert in_process[0] == in_thread[0] and in_process[3] > 0  # the same rendered bytes
        assert in_process[1:] == in_thread[1:]
        with pytest.raises(PayloadError) as err:
            await processes.run(parse_and_build, "realtime", "sbc-1", b"{}", size=2)
        assert err.value.reason == "degenerate_payload" and "empty JSON object" in str(err.value)
    finally:
        processes.shutdown()
        threads.shutdown()


async def test_pipe_workers_parse_like_a_thread_and_survive_a_dead_worker():
    import os
    import signal

    from exporter.engine.pipeworkers import PipeWorkers, WorkerDied

    threads = ParseWorkers(processes=0)
    workers = PipeWorkers(1)
    await workers.start()
    try:
        body = fixture("realtime.old.xml")
        expected = await threads.run(parse_and_build, "realtime", "sbc-1", body, size=len(body))
        results = [await workers.submit(parse_and_build, "realtime", "sbc-1", body) for _ in range(3)]
        assert all(r == expected for r in results) and expected[3] > 50
        with pytest.raises(PayloadError) as err:
            await workers.submit(parse_and_build, "realtime", "sbc-1", b"<html>proxy</html>")
        assert err.value.reason == "degenerate_payload"

        (worker,) = workers._workers  # noqa: SLF001
        job = workers.submit(time_sleep, 5)
        await asyncio.sleep(0.2)
        os.kill(worker.process.pid, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            await job
        # A replacement is started; the next answers are parsed by it.
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
        assert engine.workers.small.ready
        await engine.poll_once()
        state = engine.states["sbc-1"]
        assert all(c.success and c.samples > 0 for c in state.collectors.values())
        pids = {w.process.pid for w in engine.workers.small._workers}  # noqa: SLF001
        assert pids and all(pid != os.getpid() for pid in pids)
    finally:
        await engine.stop()
    assert not engine.workers.small._workers  # noqa: SLF001 - stopped with the engine


def time_sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)

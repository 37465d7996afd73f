"""Large answers are parsed in a worker process; results and errors cross the boundary intact."""

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

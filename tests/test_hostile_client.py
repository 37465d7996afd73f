"""The exporter's HTTP surface under a hostile client, over real sockets against the real process: requests it
cannot parse cost a 400 and a counter, not a traceback each in the log; the open-files limit is raised at
start so held connections cannot exhaust a 1,024 default."""

from __future__ import annotations

import resource
import socket
import time
import urllib.request

from helpers import Exporter, sample


def low_open_files_limit() -> None:
    """Runs in the child before exec: the common default soft limit of a systemd service."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def soft_limit(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return soft, hard


def raw_request(address: str, request: bytes) -> bytes:
    host, port = address.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        return s.recv(200)


def test_the_open_files_limit_is_raised_to_the_hard_one_at_start():
    exporter = Exporter("--demo", preexec_fn=low_open_files_limit)
    try:
        soft, hard = soft_limit(exporter.proc.pid)
        assert soft == hard, (soft, hard)
        assert hard == "unlimited" or int(hard) > 1024  # else the test shows nothing: the limit could not grow
    finally:
        exporter.stop()


def test_malformed_requests_are_counted_and_summarised_without_tracebacks():
    exporter = Exporter("--demo")
    try:
        oversized = [b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                     b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"BROKEN\r\n\r\n"]
        for i in range(60):
            assert raw_request(exporter.url, oversized[i % 3]).startswith(b"HTTP/1.0 400 "), i
        text = urllib.request.urlopen(f"{exporter.url}/metrics", timeout=10).read().decode()
        assert sample(text, "vsxi_xivo_exporter_malformed_requests_total") == 60
        deadline = time.monotonic() + 10
        while "malformed requests" not in exporter.stderr():
            assert time.monotonic() < deadline, exporter.stderr()[-2000:]
            time.sleep(0.02)
    finally:
        exporter.stop()
    log = exporter.stderr()
    assert "Traceback" not in log and "level=error" not in log
    summaries = [line for line in log.splitlines() if "malformed requests" in line]
    assert len(summaries) == 1, summaries  # one line per minute at most, whatever the client sends
    assert "level=warn" in summaries[0] and "count=1 " in summaries[0]  # the first one, then counted quietly

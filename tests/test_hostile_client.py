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


def test_connections_whose_request_head_never_completes_are_closed_and_metrics_answers():
    """Slowloris: 300 connections send a request line and never finish the headers. Each is closed once
    --web.read-header-timeout (1 s here) passes, and counted; /metrics answers all along; a client that sends
    its head in time, over the same kind of connection, is served."""
    exporter = Exporter("--demo", "--web.read-header-timeout", "1s")
    held = []
    try:
        host, port = exporter.url.removeprefix("http://").split(":")
        for _ in range(300):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # the head never ends
            held.append(s)
        started = time.monotonic()
        assert urllib.request.urlopen(f"{exporter.url}/metrics", timeout=5).status == 200
        assert time.monotonic() - started < 1.0
        for s in held:  # every one is closed by the server: recv sees the end, without an answer
            assert s.recv(100) == b""
        text = urllib.request.urlopen(f"{exporter.url}/metrics", timeout=5).read().decode()
        assert sample(text, "vsxi_xivo_exporter_http_slow_clients_closed_total") == 300
        deadline = time.monotonic() + 30  # every target polls (the demo's first rounds may still be running)
        while not (sample(text, "vsxi_up", target="sbc-demo-xml") == 1
                   and sample(text, "xivo_up", target="pbx-demo-wazo") == 1):
            assert time.monotonic() < deadline, "the demo targets never came up"
            time.sleep(0.1)
            text = urllib.request.urlopen(f"{exporter.url}/metrics", timeout=5).read().decode()
        # A keep-alive connection: a first request served, then a second whose head never ends is closed too.
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"Healthy\n"):
                more = s.recv(4096)
                assert more, answer
                answer += more
            assert answer.startswith(b"HTTP/1.1 200")
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            assert s.recv(100) == b""
    finally:
        for s in held:
            s.close()
        exporter.stop()
    assert "Traceback" not in exporter.stderr(), exporter.stderr().replace("\\n", "\n")[-3000:]

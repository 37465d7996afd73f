"""A cheap loopback VSXi fleet for the benchmarks: one process, pre-rendered answers, a few microseconds each.

    python bench/devices.py --port 0 --trunks 20          # prints "listening PORT", serves until killed

Device ``i`` lives under ``/dev/<i>``: ``GET /dev/7/SSConfig/webresources/stats/realtime?format=json``. Its
answers are the simulator's renderings (``exporter.simulator``) for its variant, chosen by ``i % 4``: XML or
JSON, old (``<table>``) or new (``<table_data>`` + ``xsi:nil``) mysqldump layout. The server answers the format
the request asks for, in the device's layout. It checks nothing and computes nothing per request, so that its
own CPU stays small beside the exporter's on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from exporter.simulator.vsxi_model import Scale, VsxiModel  # noqa: E402
from exporter.simulator.vsxi_render import render  # noqa: E402

TABLES = ("realtime", "resource", "resource_detail", "sip_stats", "sub_stats", "active_calls", "media_server")
VARIANTS = (("xml", "old"), ("json", "new"), ("xml", "new"), ("json", "old"))  # by device index % 4
STATS = b"/SSConfig/webresources/stats/"


def variant(index: int) -> tuple[str, str]:
    return VARIANTS[index % len(VARIANTS)]


def render_answers(trunks: int, registrations: int = 200, calls: int = 120) -> dict[tuple[str, str, str], bytes]:
    """(format, layout, table) -> body, frozen at one instant so every run sees the same bytes."""
    model = VsxiModel(Scale(trunks=trunks, registrations=registrations, calls=calls), clock=lambda: 1_800_000_000.0)
    return {(fmt, layout, table): render(model.answer(table), fmt, layout)
            for fmt in ("xml", "json") for layout in ("old", "new") for table in TABLES}


def echo(body: bytes) -> tuple:
    """A parse job that parses nothing: bench/fleet.py's hand-off figures (a worker imports it from here)."""
    return ((0, body),), 0, 0, 1


def _response(body: bytes, fmt: str) -> bytes:
    ctype = b"application/json" if fmt == "json" else b"application/xml"
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


class _Http(asyncio.Protocol):
    """Keep-alive HTTP/1.1 for GETs without a body, which is all a poller sends."""

    def __init__(self, responses: dict[tuple[str, str, bytes], bytes]):
        self.responses = responses
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(self._answer(head.split(b" ", 2)[1]))

    def _answer(self, target: bytes) -> bytes:
        path, _, query = target.partition(b"?")
        try:
            _, dev, index, rest = path.split(b"/", 3)
            table = rest[len(STATS) - 1:]
            _, layout = variant(int(index))
            fmt = "json" if b"format=json" in query else "xml"
            return self.responses[(fmt, layout, table)]
        except (ValueError, KeyError):
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


async def serve(port: int, trunks: int, registrations: int = 200, calls: int = 120) -> None:
    answers = render_answers(trunks, registrations, calls)
    responses = {(fmt, layout, table.encode()): _response(body, fmt)
                 for (fmt, layout, table), body in answers.items()}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Http(responses), "127.0.0.1", port, backlog=4096)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--trunks", type=int, default=20)
    p.add_argument("--registrations", type=int, default=200)
    p.add_argument("--calls", type=int, default=120)
    a = p.parse_args()
    try:
        asyncio.run(serve(a.port, a.trunks, a.registrations, a.calls))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

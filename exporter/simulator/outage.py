"""Devices that are down, in each of the shapes a lost site or a broken device takes on the network.

    python -m exporter.simulator.outage --mode trickle     # prints "listening URL", serves until killed

One ``DeadSite`` stands for every dead device of a test or of ``bench/fleet.py``: their targets all point at
its ``url`` (the shapes do not depend on the path asked). The shapes (``MODES``):

* ``accept``: the TCP connection is accepted, the request read, and nothing ever answers;
* ``syn``: the handshake never completes: a listening socket whose accept queue is full and never accepted
  (Linux then drops further SYNs, as a firewall or a dead route does);
* ``tls``: TCP is accepted but the TLS handshake never gets an answer (the URL is ``https://``);
* ``trickle``: the status line and headers come at once, then a body of a byte every ``trickle_every``
  seconds that never ends;
* ``refused``: nothing listens: every connection is refused at once;
* ``dns``: the name does not resolve (``.invalid`` is reserved never to resolve: no socket at all).

``connections`` counts the TCP connections accepted (``accept``, ``tls``, ``trickle``): with one request per
connection, the requests the dead devices cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket

MODES = ("accept", "syn", "tls", "trickle", "refused", "dns")
TRICKLE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 10000000\r\n\r\n"
                b"<?xml version=\"1.0\"?>")


class DeadSite:
    def __init__(self, mode: str, trickle_every: float = 1.0):
        if mode not in MODES:
            raise ValueError(f"unknown outage mode {mode!r} (expected one of: {', '.join(MODES)})")
        self.mode = mode
        self.trickle_every = trickle_every
        self.connections = 0
        self.url = ""
        self._server: asyncio.base_events.Server | None = None
        self._sockets: list[socket.socket] = []  # held for the site's life: the bound port, the full queue
        self._handlers: set[asyncio.Task] = set()  # one per connection accepted, ended by close()

    async def start(self) -> str:
        if self.mode in ("accept", "tls", "trickle"):
            handler = self._trickle if self.mode == "trickle" else self._silent
            self._server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=4096)
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"{'https' if self.mode == 'tls' else 'http'}://127.0.0.1:{port}"
        elif self.mode == "syn":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            self._sockets.append(listener)
            for _ in range(4):  # the accept queue filled by connections nobody accepts
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
                self._sockets.append(filler)
            await asyncio.sleep(0.05)
            self.url = f"http://127.0.0.1:{port}"
        elif self.mode == "refused":
            bound = socket.socket()  # bound, never listening: refused, and no other process can take the port
            bound.bind(("127.0.0.1", 0))
            self._sockets.append(bound)
            self.url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        else:
            self.url = "http://sbc-lost-site.invalid:8888"
        return self.url

    async def _silent(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted()
        # Ended by close() as well: a handler returns rather than ends cancelled, which asyncio's stream server
        # would log as an error.
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while await reader.read(65536):  # read and drop, never answer, until the client gives up
                pass
        writer.close()

    async def _trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted()
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(TRICKLE_HEAD)
            while True:
                await writer.drain()
                await asyncio.sleep(self.trickle_every)
                writer.write(b" ")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the client gave up, or close(): returned, not cancelled (see _silent)
        finally:
            writer.close()

    def _accepted(self) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for s in self._sockets:
            s.close()


async def _serve(mode: str, trickle_every: float) -> None:
    site = DeadSite(mode, trickle_every)
    print(f"listening {await site.start()}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await site.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m exporter.simulator.outage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=MODES, required=True)
    p.add_argument("--trickle-every", type=float, default=1.0, help="seconds between two bytes (trickle)")
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(a.mode, a.trickle_every))


if __name__ == "__main__":
    main()

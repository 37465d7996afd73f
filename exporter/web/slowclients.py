"""A time limit on receiving a request's head (``--web.read-header-timeout``), as Go's ReadHeaderTimeout.

aiohttp waits for a request's headers as long as the client likes: a client that opens connections and sends
a request line but never finishes its headers (slowloris) holds each connection, and a file descriptor, for
good, and basic auth never gets to run. Here each connection's handler arms a timer when a request's head
starts (on connect, and when bytes of a next request arrive on a kept-alive connection) and disarms it once
the head is parsed; a head still incomplete at the deadline closes the connection, counted in
``vsxi_xivo_exporter_http_slow_clients_closed_total``. Idle kept-alive connections are aiohttp's keep-alive
timeout's; request bodies are not timed here (the exporter reads none larger than a reload's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import AppRunner
from aiohttp.web_server import Server

DEFAULT_READ_HEADER_TIMEOUT = 10.0  # seconds: a real client sends its head in one packet


def _handler_class(timeout: float, on_slow: Callable[[], None]) -> type[RequestHandler]:
    class HeadTimedHandler(RequestHandler):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._heads_seen = self._request_count
            self._head_deadline: asyncio.TimerHandle | None = None
            self._arm()

        def _arm(self) -> None:
            if self._head_deadline is None:
                self._head_deadline = self._loop.call_later(timeout, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._request_count != self._heads_seen:  # a head was parsed: this request's head is in
                self._heads_seen = self._request_count
                self._disarm()
            elif data and self._payload_parser is None and not self._upgraded:
                self._arm()  # part of a next request's head

        def connection_lost(self, exc: BaseException | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            on_slow()
            self.force_close()
            if self.transport is not None:
                self.transport.close()

    return HeadTimedHandler


def install(runner: AppRunner, timeout: float, on_slow: Callable[[], None]) -> None:
    """Make ``runner``'s server (after ``runner.setup()``) hand each connection a handler with the head timer."""
    handler = _handler_class(timeout, on_slow)

    class HeadTimedServer(Server):
        def __call__(self) -> RequestHandler:
            return handler(self, loop=self._loop, **self._kwargs)

    runner.server.__class__ = HeadTimedServer

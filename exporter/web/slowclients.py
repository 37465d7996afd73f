"""A time limit on receiving a request's head (``--web.read-header-timeout``), as Go's ReadHeaderTimeout.

aiohttp waits for a request's headers as long as the client likes: a client that opens connections and sends
a request line but never finishes its headers (slowloris) holds each connection, and a file descriptor, for
good, and basic auth never gets to run. Here each connection's handler arms a timer when a request's head
starts (on connect, and when bytes of a next request arrive on a kept-alive connection) and disarms it once
the head is parsed; a head still incomplete at the deadline closes the connection, counted in
``vsxi_xivo_exporter_http_slow_clients_closed_total``. Idle kept-alive connections are aiohttp's keep-alive
timeout's; request bodies are not timed here (the exporter reads none larger than a reload's).

A connection the web config does not admit (a client certificate without any of ``client_allowed_sans``) is
closed as soon as its TLS handshake ends, before anything is read
(``vsxi_xivo_exporter_http_client_certificates_refused_total``).

Connections held open are bounded too (``--web.max-connections``; by default half the open-files limit, so
that the exporter's own connections to its devices, its parse workers' pipes and its files always find a
descriptor): past the bound a new connection is closed at once, counted in
``vsxi_xivo_exporter_http_connections_refused_total``; ``vsxi_xivo_exporter_http_connections`` is how many are
open. The event loop's accept errors (no descriptor left: EMFILE, ENFILE) are counted in
``vsxi_xivo_exporter_http_accept_errors_total`` and logged once a minute at most, without a traceback (asyncio
already pauses accepting for a second after one).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import AppRunner
from aiohttp.web_server import Server

DEFAULT_READ_HEADER_TIMEOUT = 10.0  # seconds: a real client sends its head in one packet
ACCEPT_ERROR_LOG_INTERVAL = 60.0
logger = logging.getLogger("exporter.web")


@dataclass
class ClientLimits:
    """The limits and what they count (self-metric callbacks)."""

    read_header_timeout: float
    max_connections: int  # 0: half the open-files limit
    on_slow: Callable[[], None]
    on_refused: Callable[[], None]
    on_accept_error: Callable[[], None]
    # Whether a new connection may be read at all (after its TLS handshake): the web config's client certificate
    # SANs (exporter.web.security.WebSecurity.admits); one it refuses is closed at once and counted.
    admit: Callable[[asyncio.BaseTransport], bool] = lambda transport: True
    on_not_admitted: Callable[[], None] = lambda: None
    open_connections: int = 0


def default_max_connections() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1 << 20 if soft == resource.RLIM_INFINITY else max(16, soft // 2)


def _handler_class(limits: ClientLimits) -> type[RequestHandler]:
    timeout, on_slow = limits.read_header_timeout, limits.on_slow

    class HeadTimedHandler(RequestHandler):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._counted = limits.open_connections < limits.max_connections
            if not self._counted:  # over the bound: closed before anything is read or answered
                limits.on_refused()
                transport.abort()
                self._head_deadline = None
                return
            if not limits.admit(transport):  # a client certificate not allowed: nothing read, nothing answered
                limits.on_not_admitted()
                self._counted = False
                transport.close()
                self._head_deadline = None
                return
            limits.open_connections += 1
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
            if not self._counted:
                return
            super().data_received(data)
            if self._request_count != self._heads_seen:  # a head was parsed: this request's head is in
                self._heads_seen = self._request_count
                self._disarm()
            elif data and self._payload_parser is None and not self._upgraded:
                self._arm()  # part of a next request's head

        def connection_lost(self, exc: BaseException | None) -> None:
            if not self._counted:
                return
            limits.open_connections -= 1
            self._disarm()
            super().connection_lost(exc)

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            on_slow()
            self.force_close()
            if self.transport is not None:
                self.transport.close()

    return HeadTimedHandler


def install(runner: AppRunner, limits: ClientLimits) -> None:
    """Make ``runner``'s server (after ``runner.setup()``) hand each connection a handler with the head timer
    and the connection bound, and limit the event loop's accept-error logs."""
    if not limits.max_connections:
        limits.max_connections = default_max_connections()
    handler = _handler_class(limits)
    _limit_accept_errors(asyncio.get_running_loop(), limits.on_accept_error)

    class HeadTimedServer(Server):
        def __call__(self) -> RequestHandler:
            return handler(self, loop=self._loop, **self._kwargs)

    runner.server.__class__ = HeadTimedServer


def _limit_accept_errors(loop: asyncio.AbstractEventLoop, count: Callable[[], None]) -> None:
    """asyncio reports each failed accept (no descriptor left) through the loop's exception handler, which logs
    a traceback each time: counted, and one line a minute at most. Everything else goes on as before."""
    previous = loop.get_exception_handler()
    last: list[float] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            count()
            now = time.monotonic()
            if not last or now - last[0] >= ACCEPT_ERROR_LOG_INTERVAL:
                last[:] = [now]
                exc = context.get("exception")
                logger.warning("cannot accept connections: no file descriptor left (counted in "
                               "vsxi_xivo_exporter_http_accept_errors_total; logged once a minute at most)",
                               extra={"fields": {"error": str(exc) if exc else "-"}})
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)

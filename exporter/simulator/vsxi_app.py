"""An aiohttp application that answers like a Sansay VSXi's REST API, with fault injection.

``GET /SSConfig/webresources/stats/<table>[?format=json]`` with HTTP Basic auth. Like the device, it answers
400 when a second request arrives while one is in flight. Faults are set at start or over HTTP on the
unauthenticated control endpoint ``/_sim/faults`` (GET shows them, PUT replaces, PATCH merges), and
``/_sim/requests`` lists what the simulator received, so tests can assert what the exporter did:

    latency: 0.5                 seconds added to every stats request
    status: 401                  answer every stats request with this status (401, 402, 500, 503, ...)
    body: html                   degenerate answer for every table: empty (200, no body), empty_object,
                                 empty_database, truncated, html, reset (connection closed without an
                                 answer), hang (never answers)
    tables: {sub_stats: truncated, realtime: "status:500"}   the same per table
    jaxb_above: 100000           JSON answers larger than this many bytes fail like some firmware
                                 (500 "convert xml2json failed(JAXB)")
    reject_concurrent: true      400 on concurrent requests (the device's behaviour; default on)
    extra_fields: false          add fields no known firmware has, to show unmapped fields
    field_variants: false        answers as other firmware may write them: 19,750 and 98%, a value that is no
                                 number, HA state capitalised, TrunkId/NumOrig, HH:MM:SS durations, N/A
                                 answer times, sip_stats with a row per port
    bom: false                   start every answer with a UTF-8 byte-order mark
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from exporter.simulator.control import FaultSet, faults_endpoint
from exporter.simulator.vsxi_model import TABLES, Scale, VsxiModel
from exporter.simulator.vsxi_render import render

BODY_FAULTS = ("empty", "empty_object", "empty_database", "truncated", "html", "reset", "hang")
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Login</title></head><body>Proxy login required</body></html>"
STATUS_TEXT = {
    400: "fail - invalid request",
    401: "Fail - User Not Authorized: invalid username or password",
    402: "This action is not allowed while system is in Load-Balance Slave mode",
    500: "fail - internal error",
    503: "Service Unavailable",
}


@dataclass
class Faults(FaultSet):
    latency: float = 0.0
    status: int | None = None
    body: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    jaxb_above: int | None = None
    reject_concurrent: bool = True
    extra_fields: bool = False
    field_variants: bool = False
    bom: bool = False

    def check(self) -> None:
        for fault in [self.body, *self.tables.values()]:
            if fault is not None and fault not in BODY_FAULTS and not str(fault).startswith("status:"):
                raise ValueError(f"unknown body fault {fault!r} (expected one of {', '.join(BODY_FAULTS)})")


class VsxiSimulator:
    def __init__(self, username: str = "monitor", password: str = "secret", layout: str = "old",
                 scale: Scale | None = None, faults: dict | None = None, model: VsxiModel | None = None):
        self.username, self.password = username, password
        self.layout = layout
        self.faults = Faults()
        if faults:
            self.faults.update(faults)
        self.model = model or VsxiModel(scale, extra_fields=self.faults.extra_fields)
        self.in_flight = 0
        self.requests: list[dict] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/SSConfig/webresources/stats/{table}", self.stats)
        app.router.add_route("*", "/_sim/faults", faults_endpoint(self, Faults))
        app.router.add_get("/_sim/requests", self.control_requests)
        return app

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.username, self.password)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        table = request.match_info["table"]
        fmt = "json" if request.query.get("format") == "json" else "xml"
        concurrent = self.in_flight > 0
        self.requests.append({"table": table, "format": fmt, "time": time.time(), "concurrent": concurrent})
        self.in_flight += 1
        try:
            return await self._answer(request, table, fmt, concurrent)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, table: str, fmt: str, concurrent: bool) -> web.StreamResponse:
        f = self.faults
        if f.latency:
            await asyncio.sleep(f.latency)
        if concurrent and f.reject_concurrent:
            return self._status(400, "fail - another request is being processed")
        if not self._authorized(request):
            return self._status(401)
        if table not in TABLES:
            return self._status(400, f"fail - unknown table {table}")
        fault = f.tables.get(table, f.body)
        status = f.status
        if fault and fault.startswith("status:"):
            status, fault = int(fault.split(":", 1)[1]), None
        if status:
            return self._status(status)
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault == "reset":
            request.transport.abort() if request.transport else None
            raise ConnectionResetError("simulated reset")
        if fault == "html":
            return web.Response(body=HTML_PAGE, content_type="text/html")
        if fault == "empty":
            return self._body(b"", fmt)
        if fault == "empty_object":
            return self._body(b"{}", fmt)  # seen with XML asked too: the failover answer is JSON
        if fault == "empty_database":
            body = (b'{"mysqldump":{"database":{}}}' if fmt == "json"
                    else b'<?xml version="1.0"?><mysqldump><database name="ssdb"></database></mysqldump>')
            return self._body(body, fmt)
        self.model.extra_fields = f.extra_fields
        self.model.field_variants = f.field_variants
        body = render(self.model.answer(table), fmt, self.layout)
        if f.bom:
            body = b"\xef\xbb\xbf" + body
        if fmt == "json" and f.jaxb_above is not None and len(body) > f.jaxb_above:
            return self._status(500, "convert xml2json failed(JAXB)")
        if fault == "truncated":
            body = body[: len(body) // 2]
        return self._body(body, fmt)

    @staticmethod
    def _body(body: bytes, fmt: str) -> web.Response:
        return web.Response(body=body, content_type="application/json" if fmt == "json" else "application/xml")

    @staticmethod
    def _status(status: int, text: str | None = None) -> web.Response:
        return web.Response(status=status, text=text or STATUS_TEXT.get(status, "fail"))

    async def control_requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.requests[-1000:])


async def start_simulator(sim: VsxiSimulator, host: str = "127.0.0.1", port: int = 0,
                          ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    """Serve ``sim`` on loopback (HTTPS with ``ssl_context``); returns the runner (cleanup()) and the base URL."""
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    sockets = site._server.sockets  # noqa: SLF001 - the only way to learn an ephemeral port
    bound = sockets[0].getsockname()[1]
    return runner, f"{'https' if ssl_context else 'http'}://{host}:{bound}"


def demo_tls() -> ssl.SSLContext:
    """A server context with the demo's self-signed certificate (demo-tls.pem, valid 100 years, for loopback
    demos only: its key is public), so that a demo device presents a certificate the exporter reads."""
    here = Path(__file__).parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(here / "demo-tls.pem", here / "demo-tls.key")
    return context

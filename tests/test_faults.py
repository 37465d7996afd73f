"""The fault campaign: one hostile device at a time, over real sockets, beside a healthy one.

``Hostile`` is a VSXi that answers as the simulator does until it is told to misbehave in one of the ways
devices, proxies and networks do (``FAULTS``). For each fault one poll round runs against it and a healthy
SBC, then the fault ends and another round runs. Each case asserts what the documentation promises:

* the hostile collectors fail with the documented reason (or succeed, where the answer is odd but valid),
  and ``vsxi_up`` says whether anything could be read;
* the healthy target is untouched (every collector succeeds);
* the bytes held for answers stayed within ``global.max_in_flight_bytes`` and were all given back;
* the hostile target recovers once the fault ends;
* nothing from a file the device points at, and no password, reaches the exposition.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from helpers import PASSWORD, SMALL, make_engine, make_target, refused_port, sample

from exporter.config import Config
from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.simulator.vsxi_render import render
from exporter.vsxi.config import VsxiTarget
from exporter.web.app import create_app

COLLECTORS = ("realtime", "sub_stats")
BUDGET = 16 << 20
LIMIT = 2 << 20  # max_response_bytes of the hostile target
ITEM = b"<XBSubStats><username>u</username><trunkId>1</trunkId><states>REGISTERED</states></XBSubStats>"
SECRET_FILE_TEXT = "root-secret-from-a-local-file"
SECRET_FILE_NUMBER = "0.7319427"  # read as a number if an entity were resolved: an unmapped field's value


class Hostile:
    """A VSXi that misbehaves on demand (``serve``, one of FAULTS); ``serve = None`` answers as the simulator
    does."""

    def __init__(self):
        self.sim = VsxiSimulator(password=PASSWORD, scale=SMALL)
        self.serve: Callable[[Hostile, web.Request], Awaitable[web.StreamResponse]] | None = None
        self.requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/SSConfig/webresources/stats/{table}", self.stats)
        return app

    def answer(self, table: str, fmt: str) -> bytes:
        return render(self.sim.model.answer(table), fmt, self.sim.layout)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.serve is None:
            return await self.sim.stats(request)
        return await self.serve(self, request)


async def stream(request: web.Request, pieces, delay: float = 0.0, **headers) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/xml", **headers})
    await response.prepare(request)
    try:
        for piece in pieces:
            await response.write(piece)
            if delay:
                await asyncio.sleep(delay)
    except (ConnectionResetError, RuntimeError):
        pass
    return response


def table_of(request: web.Request) -> str:
    return request.match_info["table"]


def fmt_of(request: web.Request) -> str:
    return "json" if request.query.get("format") == "json" else "xml"


# --- the faults ---------------------------------------------------------------------------------------------


async def slow_first_byte(h, request):
    await asyncio.sleep(30)
    return web.Response(body=h.answer(table_of(request), "xml"))


async def trickle(h, request):
    body = h.answer(table_of(request), "xml")
    return await stream(request, (body[i:i + 1] for i in range(len(body))), delay=0.2)


async def reset_mid_body(h, request):
    body = h.answer(table_of(request), "xml")
    response = web.StreamResponse(headers={"Content-Type": "application/xml", "Content-Length": str(len(body))})
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    request.transport.abort()
    return response


def status(code: int, text: str = "fail", **headers):
    async def serve(h, request):
        return web.Response(status=code, text=text, headers=headers)
    return serve


async def html_200(h, request):
    return web.Response(body=b"<!DOCTYPE html><html><body>Please log in</body></html>", content_type="text/html")


async def redirect_loop(h, request):
    raise web.HTTPFound(location=str(request.url))


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b"<XBSubStatsList>" + b" " * (64 << 20), compresslevel=9)  # ~64 kB on the wire


async def gzip_bomb(h, request):
    return web.Response(body=bomb(), headers={"Content-Type": "application/xml", "Content-Encoding": "gzip"})


async def huge_without_length(h, request):
    """A well-formed answer of the table asked for that never ends: the parser keeps reading."""
    if table_of(request) == "sub_stats":
        return await stream(request, [b"<XBSubStatsList>"] + [ITEM * 1000] * 10_000)
    row = b'<row><field name="Id">1</field><field name="numOrig">5</field></row>'
    return await stream(request, [b'<mysqldump><database><table name="system_stat">'] + [row * 1000] * 10_000)


def fixed(body: bytes, content_type: str = "application/xml"):
    async def serve(h, request):
        return web.Response(body=body, content_type=content_type)
    return serve


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
                             for i in range(1, 10))
                  + b']><mysqldump><database><table name="system_stat"><row><field name="x">&lol9;</field>'
                  + b"</row></table></database></mysqldump>")


def external_entity(text_path: str, number_path: str):
    """The real answer with two external entities, each where a leak would reach the exposition: the first
    (a file of text) as the HA state or the registration state, both label values; the second (a file holding
    a number) as a field no mapping knows, whose numeric value is exported as vsxi_unmapped_field_value."""
    async def serve(h, request):
        table = table_of(request)
        body = h.answer(table, "xml")
        head, _, rest = body.partition(b"?>")
        root = rest.lstrip()[1:].split(b">", 1)[0].split()[0]
        doctype = (f'<!DOCTYPE {root.decode()} [<!ENTITY xxe SYSTEM "file://{text_path}">'
                   f'<!ENTITY xxn SYSTEM "file://{number_path}">]>').encode()
        if table == "realtime":
            rest, n = re.subn(rb'<field name="ha_current_state">[^<]*</field>',
                              rb'<field name="ha_current_state">&xxe;</field><field name="xxe_probe">&xxn;</field>',
                              rest, count=1)
        else:
            rest, n = re.subn(rb"<states>[^<]*</states>", rb"<states>&xxe;</states><xxeProbe>&xxn;</xxeProbe>",
                              rest, count=1)
        assert n == 1
        return web.Response(body=head + b"?>" + doctype + rest, content_type="application/xml")
    return serve


def json_with(token: bytes):
    """The real JSON answer with its first number replaced by ``token`` (NaN, Infinity, 1e400)."""
    async def serve(h, request):
        body = h.answer(table_of(request), "json")
        body = re.sub(rb":\s*\d+", b":" + token, body, count=1)
        return web.Response(body=body, content_type="application/json")
    return serve


async def strings_for_numbers(h, request):
    doc = json.loads(h.answer(table_of(request), "json"))

    def stringify(node):
        if isinstance(node, dict):
            return {k: stringify(v) for k, v in node.items()}
        if isinstance(node, list):
            return [stringify(v) for v in node]
        return str(node) if isinstance(node, int | float) and not isinstance(node, bool) else node

    return web.Response(body=json.dumps(stringify(doc)).encode(), content_type="application/json")


async def counters_backwards(h, request):
    h.sim.model = type(h.sim.model)(SMALL)  # a restarted device: every counter from zero again
    return await h.sim.stats(request)


def rows(n: int):
    async def serve(h, request):
        if table_of(request) != "sub_stats":
            return await h.sim.stats(request)
        return web.Response(body=b"<XBSubStatsList>" + ITEM * n + b"</XBSubStatsList>", content_type="application/xml")
    return serve


async def format_switch(h, request):
    other = "xml" if fmt_of(request) == "json" else "json"
    fmt = other if h.requests % 2 else fmt_of(request)
    return web.Response(body=h.answer(table_of(request), fmt),
                        content_type="application/json" if fmt == "json" else "application/xml")


@dataclass
class Fault:
    serve: Callable[[Hostile, web.Request], Awaitable[web.StreamResponse]] | None
    reason: str | None  # what every hostile collector fails with; None: they all succeed
    up: bool
    url: str | None = None  # the target points elsewhere (closed port, unresolvable name, silent socket)
    timeout: float = 0.5  # the hostile target's; long enough to read LIMIT where the size is the point


FAULTS: dict[str, Fault] = {
    "slow_first_byte": Fault(slow_first_byte, "timeout", False),
    "trickle_1_byte_per_200ms": Fault(trickle, "timeout", False),
    "reset_mid_body": Fault(reset_mid_body, "connection", False),
    "accept_then_silence": Fault(None, "timeout", False, url="silent"),
    "closed_port": Fault(None, "connection", False, url="closed"),
    "unresolvable_name": Fault(None, "dns", False, url="http://sbc-that-does-not-exist.invalid:8888"),
    "http_401": Fault(status(401, "Fail - User Not Authorized"), "http_401", False),
    "http_403": Fault(status(403), "http_4xx", False),
    "http_404": Fault(status(404), "http_4xx", False),
    "http_429": Fault(status(429, "slow down", **{"Retry-After": "1"}), "http_429", False),
    "http_500": Fault(status(500, "fail - internal error"), "http_5xx", False),
    "http_502": Fault(status(502, "Bad Gateway"), "http_5xx", False),
    "html_200": Fault(html_200, "degenerate_payload", False),
    "redirect_loop": Fault(redirect_loop, "http_other", False),
    "gzip_bomb": Fault(gzip_bomb, "too_large", False, timeout=5.0),
    "huge_body_without_length": Fault(huge_without_length, "too_large", False, timeout=5.0),
    "billion_laughs": Fault(fixed(BILLION_LAUGHS), "invalid_payload", False),
    "external_entity_to_local_file": Fault(None, None, True),  # served from the test's own files, below
    "json_nan": Fault(json_with(b"NaN"), None, True),
    "json_infinity": Fault(json_with(b"Infinity"), None, True),
    "json_1e400": Fault(json_with(b"1e400"), None, True),
    "json_100k_deep": Fault(fixed(b"[" * 100_000 + b"]" * 100_000, "application/json"), "invalid_payload", False),
    "strings_for_numbers": Fault(strings_for_numbers, None, True),
    "counters_backwards": Fault(counters_backwards, None, True),
    "empty_body": Fault(fixed(b""), "degenerate_payload", False),
    "rows_0": Fault(rows(0), None, True),
    "rows_1": Fault(rows(1), None, True),
    "rows_10000": Fault(rows(10_000), None, True),
    "switching_xml_and_json": Fault(format_switch, None, True),
}


@pytest.fixture
async def silent_socket():
    """Accepts connections and never reads or answers."""
    held, done = [], asyncio.Event()

    async def accept(reader, writer):
        held.append(writer)
        await done.wait()  # silent until the test ends, then the handler returns (no task left pending)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        done.set()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def closed_port():
    """A port that refuses connections for the whole test: bound, never listening (see helpers.refused_port)."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_fault(name, aiohttp_server, aiohttp_client, silent_socket, closed_port, tmp_path, monkeypatch):
    fault = FAULTS[name]
    hostile = Hostile()
    server = await aiohttp_server(hostile.app())
    url = str(server.make_url("")).rstrip("/")
    if name == "external_entity_to_local_file":
        secret, number = tmp_path / "secret.txt", tmp_path / "number.txt"
        secret.write_text(SECRET_FILE_TEXT)
        number.write_text(SECRET_FILE_NUMBER)
        fault = Fault(external_entity(str(secret), str(number)), fault.reason, fault.up)  # this test's own files
    bad_url = {"silent": silent_socket, "closed": closed_port}.get(fault.url, fault.url) or url
    fmt = "json" if name.startswith("json") or name == "strings_for_numbers" else "xml"
    victim = VsxiTarget(name="sbc-hostile", url=bad_url, username="monitor", password=PASSWORD, format=fmt,
                        collectors=COLLECTORS, interval=max(2.0, 2 * fault.timeout), timeout=fault.timeout,
                        max_response_bytes=LIMIT)
    _, healthy = await make_target(aiohttp_server, name="sbc-healthy", collectors=COLLECTORS, interval=2.0,
                                   timeout=2.0)
    engine = make_engine(victim, healthy)
    engine.config = Config(path="test", targets=engine.config.targets, max_in_flight_bytes=BUDGET)
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    await engine.workers.start()  # parsed in worker processes, as in production
    try:
        hostile.serve = fault.serve
        await asyncio.wait_for(engine.poll_once(), 30)
        state = engine.states["sbc-hostile"]
        for c in state.collectors.values():
            if fault.reason is None:
                assert c.success, (name, c.collector, c.reason, c.error)
            else:
                assert not c.success and c.reason == fault.reason, (name, c.collector, c.reason, c.error)
                assert c.error and PASSWORD not in c.error
        assert state.up is fault.up
        assert all(c.success for c in engine.states["sbc-healthy"].collectors.values()), name
        assert engine.budget.high_water <= BUDGET and engine.budget.used == 0

        text = await (await client.get("/metrics")).text()
        assert sample(text, "vsxi_up", target="sbc-hostile") == (1 if fault.up else 0)
        assert sample(text, "vsxi_up", target="sbc-healthy") == 1
        assert SECRET_FILE_TEXT not in text and SECRET_FILE_NUMBER not in text and PASSWORD not in text
        for collector in COLLECTORS:
            if fault.reason is not None:
                assert sample(text, "vsxi_xivo_exporter_poll_errors_total", family="vsxi", target="sbc-hostile",
                              collector=collector, reason=fault.reason) >= 1, (name, collector)

        if fault.url is None:  # the fault ends: the same device is read again
            hostile.serve = None
            engine.pollers["sbc-hostile"].backoff_until = None  # a 429's Retry-After is tested on its own
            await asyncio.wait_for(engine.poll_once(), 30)
            state = engine.states["sbc-hostile"]
            assert state.up and all(c.success for c in state.collectors.values()), name
    finally:
        await engine.stop()


# --- the PBX side -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", ["xivo16", "wazo"])
async def test_pbx_whose_tokens_stop_working_every_few_requests(generation, aiohttp_server):
    """xivo-auth forgets each token after 2 requests (counted, not timed: the same whatever the machine's
    speed): every round still succeeds, with a new token after each 401, not a failed round."""
    from helpers import make_xivo

    sim, pbx, runners = await make_xivo(generation, interval=2.0, timeout=1.0, faults={"max_token_uses": 2})
    _, healthy = await make_target(aiohttp_server, name="sbc-healthy", collectors=COLLECTORS)
    engine = make_engine(pbx, healthy)
    try:
        for _ in range(3):
            await asyncio.wait_for(engine.poll_once(), 30)
            state = engine.states[pbx.name]
            assert state.up and all(c.success for c in state.collectors.values()), [
                (c.collector, c.reason) for c in state.collectors.values()]
        served = len([e for e in sim.log if e["service"] != "auth" and not e["path"].endswith("/api.yml")])
        assert sim.issued >= served // 3 >= 3  # each token: two requests served, then the 401 that retires it
        assert all(c.success for c in engine.states["sbc-healthy"].collectors.values())
    finally:
        await engine.stop()
        for runner in runners:
            await runner.cleanup()


async def test_pbx_with_auth_down_while_its_services_listen(aiohttp_server):
    from helpers import make_xivo

    sim, pbx, runners = await make_xivo("xivo16", interval=2.0, timeout=1.0, faults={"auth_down": True})
    _, healthy = await make_target(aiohttp_server, name="sbc-healthy", collectors=COLLECTORS)
    engine = make_engine(pbx, healthy)
    try:
        await asyncio.wait_for(engine.poll_once(), 30)
        state = engine.states[pbx.name]
        assert not state.up
        assert {c.reason for c in state.collectors.values()} == {"auth_unavailable"}
        assert all(c.success for c in engine.states["sbc-healthy"].collectors.values())
        assert engine.budget.used == 0
        sim.faults.update({"auth_down": False})  # the fault ends
        await asyncio.wait_for(engine.poll_once(), 30)
        state = engine.states[pbx.name]
        assert state.up and all(c.success for c in state.collectors.values())
    finally:
        await engine.stop()
        for runner in runners:
            await runner.cleanup()

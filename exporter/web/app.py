"""The exporter's HTTP server (aiohttp app factory).

``/metrics`` serves every target plus the exporter's own metrics, ``/probe?target=NAME`` one configured target
(never an arbitrary URL), ``/`` a landing page, ``/-/healthy`` and ``/-/ready``. Device metrics are never
encoded here: each poll left its exposition bytes (exporter.exposition), so /probe is a lookup and /metrics a
join, streamed in blocks prepared in worker threads. Only the exporter's own metrics are encoded per request,
from their own registry (exporter.exposition.encode_registry: prometheus_client's bytes, faster).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from exporter.configfile import ConfigError
from exporter.engine import Engine
from exporter.exposition import encode_registry, negotiate
from exporter.packed import GzipJoin, InflateJoin, Pieces, piece_of
from exporter.web import landing, requestlog, slowclients

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
RELOAD: web.AppKey = web.AppKey("reload")
TELEMETRY_PATH: web.AppKey[str] = web.AppKey("telemetry_path", str)


# /metrics is sent in blocks of about this much text (held compressed, ~13:1: see exporter.packed), each joined
# or inflated off the loop: 4 MiB, fewer thread hops than 1 MiB, and what an inflated block holds at a time.
BLOCK_TEXT_BYTES = 1 << 22


def _fleet_pieces(engine: Engine, states: dict, accept: str, gzipped: bool) -> tuple[Pieces, list[tuple[int, int]]]:
    """Worker thread: the device sections (a join of cached pieces) and the exporter's own metrics (encoded
    now: they change with every request; compressed when the answer is gzip)."""
    openmetrics, _ = negotiate(accept)
    pieces = engine.fleet_exposition(states, openmetrics) if states else Pieces()
    pieces.add(*piece_of(encode_registry(engine.metrics.registry, openmetrics), compress=gzipped))
    return pieces, pieces.blocks(BLOCK_TEXT_BYTES)


def _wants_gzip(request: web.Request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "")


async def metrics(request: web.Request) -> web.StreamResponse:
    """Every device and the exporter's own metrics; ``?devices=false``: only the exporter's own (for the
    exporter's job when devices are scraped through /probe). The answer is joined from cached pieces and
    streamed in blocks, each prepared in a worker thread, so a 150 MB fleet never stalls the loop nor sits
    in memory as text: gzip (what Prometheus asks for) is the pieces as they are held, plain text is inflated
    block by block."""
    engine = request.app[ENGINE]
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    # The dict changes as pollers publish, its values never do: a shallow copy is a consistent snapshot.
    states = dict(engine.states) if request.query.get("devices", "true").lower() != "false" else {}
    accept = request.headers.get("Accept", "")
    gzipped = _wants_gzip(request)
    pieces, blocks = await loop.run_in_executor(None, _fleet_pieces, engine, states, accept, gzipped)
    _, content_type = negotiate(accept)
    engine.metrics.scrapes.labels("metrics", "200").inc()
    # Time to prepare the answer (the join, the exporter's own metrics); sending it is the client's pace.
    engine.metrics.encode_duration.labels("metrics").observe(time.perf_counter() - started)
    response = web.StreamResponse(headers={"Content-Type": content_type})
    encoder: GzipJoin | InflateJoin
    if gzipped:
        encoder = GzipJoin()
        response.headers["Content-Encoding"] = "gzip"
    else:
        encoder = InflateJoin()
        response.content_length = pieces.text_bytes()
    await response.prepare(request)
    try:
        if gzipped:
            await response.write(encoder.head())
        # The next block is joined (or inflated: zlib lets go of the GIL) while this one is sent.
        pending = loop.run_in_executor(None, encoder.block, pieces, *blocks[0]) if blocks else None
        for i in range(len(blocks)):
            data = await pending
            if i + 1 < len(blocks):
                pending = loop.run_in_executor(None, encoder.block, pieces, *blocks[i + 1])
            await response.write(data)
        if gzipped:
            await response.write(encoder.tail())
        await response.write_eof()
    except ConnectionResetError:  # the client went away mid-answer (aiohttp's own error subclasses this):
        pass  # nothing to answer, nothing to log (a traceback per dropped scrape would let any client flood it)
    return response


async def service_discovery(request: web.Request) -> web.Response:
    """Prometheus HTTP service discovery (``http_sd_configs``): the targets this exporter polls, one group each,
    with ``__meta_vsxi_xivo_*`` labels: the family, the profile, what the family adds (e.g. an HA group), the
    operator's labels (``__meta_vsxi_xivo_label_<name>``: a ``labelmap`` keeps them), and the exporter's
    own address as the client reached it (``__meta_vsxi_xivo_exporter``), so that one relabelling sends each
    device's /probe to the replica that polls it: a sharded replica lists only its share."""
    engine = request.app[ENGINE]
    groups = []
    for target in engine.config.targets:
        labels = {"__meta_vsxi_xivo_family": target.family, "__meta_vsxi_xivo_exporter": request.host,
                  "__meta_vsxi_xivo_profile": target.profile}
        labels.update({f"__meta_vsxi_xivo_{k}": v for k, v in target.discovery_labels().items()})
        labels.update({f"__meta_vsxi_xivo_label_{k}": v for k, v in target.labels})
        groups.append({"targets": [target.name], "labels": labels})
    return web.json_response(groups)


def _bad_request(request: web.Request, reason: str) -> web.Response:
    request.app[ENGINE].metrics.scrapes.labels("probe", "400").inc()
    return web.Response(status=400, text=reason + "\n")


async def probe(request: web.Request) -> web.Response:
    """One target: a join of its cached pieces (exporter.packed), as gzip without compressing anything, or
    inflated for a client that does not ask for gzip. Bounded by one target: done on the loop."""
    engine = request.app[ENGINE]
    target = request.query.get("target")
    if not target:
        return _bad_request(request, "missing parameter: target")
    if target not in engine.states:
        engine.metrics.probe_refused(target, time.time())
        shown = target if len(target) <= 64 and target.isprintable() else target[:64].encode("unicode_escape").decode()
        return _bad_request(request, f"unknown target {shown!r}: only configured target names are accepted")
    started = time.perf_counter()
    openmetrics, content_type = negotiate(request.headers.get("Accept", ""))
    pieces = engine.probe_exposition(target, openmetrics)
    gzipped = _wants_gzip(request)
    body = pieces.gzip() if gzipped else pieces.text()
    engine.metrics.encode_duration.labels("probe").observe(time.perf_counter() - started)
    engine.metrics.scrapes.labels("probe", "200").inc()
    response = web.Response(body=body, headers={"Content-Type": content_type})
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy\n")


async def ready(request: web.Request) -> web.Response:
    if request.app[ENGINE].ready():
        return web.Response(text="Ready\n")
    return web.Response(status=503, text="Not ready: waiting for the first poll round of every target\n")


async def reload(request: web.Request) -> web.Response:
    reloader = request.app.get(RELOAD)
    if reloader is None:
        return web.Response(status=400, text="reload needs --config.file (not available with --demo)\n")
    try:
        changes = await reloader()
    except ConfigError as exc:
        return web.Response(status=500, text="\n".join(exc.problems) + "\n")
    return web.Response(text="".join(f"{kind}: {names}\n" for kind, names in changes.lines(", ")))


async def landing_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    page = landing.render(dict(engine.states), engine.clock(), request.query.get("q", "")[:100],
                          request.app[TELEMETRY_PATH])
    return web.Response(text=page, content_type="text/html")


def max_requests_middleware(limit: int, paths: tuple[str, ...]):
    """``--web.max-requests``: at most ``limit`` scrapes in flight (as promhttp's MaxRequestsInFlight), the
    rest answered 503 at once rather than queued behind a slow join."""
    in_flight = 0

    @web.middleware
    async def limit_scrapes(request: web.Request, handler):
        nonlocal in_flight
        if request.path not in paths:
            return await handler(request)
        if in_flight >= limit:
            return web.Response(status=503, text=f"Limit of concurrent requests reached ({limit}), try again "
                                                 "later.\n")
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return limit_scrapes


def connection_limits(engine: Engine, security=None, read_header_timeout: float =
                      slowclients.DEFAULT_READ_HEADER_TIMEOUT, max_connections: int = 0) -> slowclients.ClientLimits:
    """What each connection to the server is held to (exporter.web.slowclients), counted in the engine's
    self-metrics; with ``security``, a client certificate the web config does not allow closes the connection
    as its handshake ends."""
    m = engine.metrics
    limits = slowclients.ClientLimits(read_header_timeout, max_connections, m.slow_clients_closed.inc,
                                      m.connections_refused.inc, m.accept_errors.inc,
                                      on_not_admitted=m.client_certificates_refused.inc)
    if security is not None:
        limits.admit = security.admits
    m.connections.set_function(lambda: limits.open_connections)
    return limits


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "vsxi-xivo-exporter"


def create_app(engine: Engine, manage_engine: bool = True, reloader=None, telemetry_path: str = "/metrics",
               max_requests: int = 0, security=None) -> web.Application:
    """The app; with ``manage_engine`` the engine's pollers start and stop with it; ``reloader`` (an async
    callable, see exporter.reload) enables ``POST /-/reload``; ``security`` (exporter.web.security.WebSecurity)
    puts every path behind the web config's rate limit, headers and basic auth."""
    app = web.Application()
    # No version in the Server header (aiohttp's default names Python's and its own): it tells a scanner which
    # known bugs to try. The web config's own headers, applied after this, may still set one.
    app.on_response_prepare.append(_server_header)
    app[ENGINE] = engine
    requestlog.install(engine.metrics.malformed_requests.inc)  # aiohttp's per-request tracebacks, summarised
    app[TELEMETRY_PATH] = telemetry_path
    if reloader is not None:
        app[RELOAD] = reloader
    if security is not None:
        security.install(app)
    if max_requests > 0:
        app.middlewares.append(max_requests_middleware(max_requests, (telemetry_path, "/probe")))
    app.router.add_get("/", landing_page)
    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/probe", probe)
    app.router.add_get("/sd", service_discovery)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)
    if manage_engine:
        async def lifecycle(app: web.Application):
            await engine.start()
            yield
            await engine.stop()

        app.cleanup_ctx.append(lifecycle)
    return app

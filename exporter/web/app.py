"""The exporter's HTTP server (aiohttp app factory).

``/metrics`` serves every target plus the exporter's own metrics, ``/probe?target=NAME`` one configured target
(never an arbitrary URL), ``/`` a landing page, ``/-/healthy`` and ``/-/ready``. A fresh registry is built per
request; encoding runs in a worker thread because it costs ~12 us per sample and a fleet has tens of
thousands, which would otherwise stall the event loop and the pollers with it.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import time
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder

from exporter import __version__
from exporter.config import ConfigError
from exporter.engine.engine import Engine

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
RELOAD: web.AppKey = web.AppKey("reload")
GZIP_MIN_BYTES = 1024


class _DeviceFamilies:
    """A registry collector building the device families when collected, i.e. in the encoding thread, from a
    copy of the states taken on the event loop (no describe: never collected at registration)."""

    def __init__(self, engine: Engine, names: list[str] | None = None):
        self._engine = engine
        self._names = names
        # The dict changes as pollers publish, its values never do: a shallow copy is a consistent snapshot.
        self._states = dict(engine.states)

    def collect(self) -> Iterable[Metric]:
        return iter(self._engine.device_families(self._names, self._states))


class _Delegate:
    def __init__(self, registry: CollectorRegistry):
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def _encode(registry: CollectorRegistry, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
    encoder, content_type = choose_encoder(accept)
    body = encoder(registry)
    gzipped = "gzip" in accept_encoding and len(body) >= GZIP_MIN_BYTES
    return (gzip.compress(body, compresslevel=5) if gzipped else body), content_type, gzipped


async def _serve(request: web.Request, handler: str, registry: CollectorRegistry) -> web.Response:
    engine = request.app[ENGINE]
    started = time.perf_counter()
    body, content_type, gzipped = await asyncio.get_running_loop().run_in_executor(
        None, _encode, registry, request.headers.get("Accept", ""), request.headers.get("Accept-Encoding", ""))
    engine.metrics.encode_duration.labels(handler).observe(time.perf_counter() - started)
    engine.metrics.scrapes.labels(handler, "200").inc()
    response = web.Response(body=body, headers={"Content-Type": content_type})
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


async def metrics(request: web.Request) -> web.Response:
    """Every device and the exporter's own metrics; ``?devices=false``: only the exporter's own (for the
    exporter's job when devices are scraped through /probe)."""
    engine = request.app[ENGINE]
    registry = CollectorRegistry(auto_describe=False)
    if request.query.get("devices", "true").lower() != "false":
        registry.register(_DeviceFamilies(engine))
    registry.register(_Delegate(engine.metrics.registry))
    return await _serve(request, "metrics", registry)


def _bad_request(request: web.Request, reason: str) -> web.Response:
    request.app[ENGINE].metrics.scrapes.labels("probe", "400").inc()
    return web.Response(status=400, text=reason + "\n")


async def probe(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    target = request.query.get("target")
    if not target:
        return _bad_request(request, "missing parameter: target")
    if target not in engine.states:
        shown = target if len(target) <= 64 and target.isprintable() else target[:64].encode("unicode_escape").decode()
        return _bad_request(request, f"unknown target {shown!r}: only configured target names are accepted")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DeviceFamilies(engine, [target]))
    return await _serve(request, "probe", registry)


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
    return web.Response(text="".join(f"{k}: {', '.join(v) or '-'}\n" for k, v in changes.items()))


def _age(now: float, ts: float | None) -> str:
    return "never" if ts is None else f"{now - ts:.0f}s ago"


async def landing(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    now = engine.clock()
    rows = []
    for name, state in sorted(engine.states.items()):
        target = engine.config.target(name)
        url = html.escape(target.url if target else "")
        up = "up" if state.up else ("standby (402)" if state.standby else "down")
        rows.append(f'<tr><th colspan="4" style="text-align:left">{html.escape(name)} - {url} - {up} - '
                    f'<a href="/probe?target={html.escape(name)}">probe</a></th></tr>')
        for c in state.collectors.values():
            status = "ok" if c.success else (html.escape(c.reason or "pending"))
            rows.append(f"<tr><td>{html.escape(c.collector)}</td><td>{status}</td>"
                        f"<td>{_age(now, c.last_success)}</td><td>{html.escape(c.error or '')}</td></tr>")
    page = f"""<!DOCTYPE html>
<html><head><title>vsxi-xivo-exporter</title></head>
<body><h1>vsxi-xivo-exporter {__version__}</h1>
<p><a href="/metrics">Metrics</a> - <a href="/-/healthy">Health</a> - <a href="/-/ready">Readiness</a></p>
<table border="1" cellpadding="3"><tr><th>collector</th><th>state</th><th>last success</th><th>last error</th></tr>
{''.join(rows)}
</table></body></html>
"""
    return web.Response(text=page, content_type="text/html")


def create_app(engine: Engine, manage_engine: bool = True, reloader=None) -> web.Application:
    """The app; with ``manage_engine`` the engine's pollers start and stop with it; ``reloader`` (an async
    callable, see exporter.reload) enables ``POST /-/reload``."""
    app = web.Application()
    app[ENGINE] = engine
    if reloader is not None:
        app[RELOAD] = reloader
    app.router.add_get("/", landing)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/probe", probe)
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

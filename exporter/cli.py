"""Command line, in the conventions of Prometheus exporters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from exporter import logs
from exporter.buildinfo import version_text
from exporter.config import Config, load_config
from exporter.configfile import ConfigError, parse_duration
from exporter.engine import Engine
from exporter.inventory import Inventory, with_inventory
from exporter.registry import FAMILIES
from exporter.reload import Reloader
from exporter.web import slowclients, systemd
from exporter.web.app import connection_limits, create_app
from exporter.web.webconfig import WebConfigError, read_web_config

if TYPE_CHECKING:
    from exporter.web.security import WebSecurity
    from exporter.web.tls import ReloadingContext

logger = logging.getLogger("exporter")
DEFAULT_LISTEN = ":10188"

SWITCH_INTERVAL = 0.001
GC_THRESHOLDS = (50_000, 20, 100)


def parse_listen_address(text: str) -> tuple[str | None, int]:
    """``:10188`` (all interfaces), ``127.0.0.1:10188``, ``[::1]:10188``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid --web.listen-address {text!r}: expected [host]:port")
    host = host.strip("[]") or None
    return host, int(port)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    index, sep, total = text.partition("/")
    if not sep or not index.isdigit() or not total.isdigit() or not 0 <= int(index) < int(total):
        raise ValueError(f"invalid --config.shard {text!r}: expected INDEX/TOTAL with 0 <= INDEX < TOTAL")
    return int(index), int(total)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vsxi-xivo-exporter",
                                description="Prometheus exporter for " + " and ".join(
                                    f"{f.title} {f.device_noun}s" for f in FAMILIES.values()) + ".",
                                epilog="'vsxi-xivo-exporter mixin --output DIR' writes the shipped dashboards, "
                                       "rules and example configs.")
    p.add_argument("--config.file", dest="config_file", default="config.yml", help="configuration file")
    p.add_argument("--web.listen-address", dest="listen", action="append", default=None,
                   help="address to serve on (default :10188); repeat it to listen on several")
    p.add_argument("--web.systemd-socket", dest="systemd_socket", action="store_true",
                   help="serve on the listening sockets systemd passes (socket activation: LISTEN_FDS) instead "
                        "of --web.listen-address")
    p.add_argument("--web.config.file", dest="web_config", default="",
                   help="exporter-toolkit web configuration (TLS, basic auth, headers, rate limit); "
                        "see docs/web-config.md")
    p.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics",
                   help="path under which to expose metrics (default /metrics)")
    p.add_argument("--web.read-header-timeout", dest="read_header_timeout", type=_duration,
                   default=slowclients.DEFAULT_READ_HEADER_TIMEOUT,
                   help="close a connection whose request head is not complete after this long (default 10s)")
    p.add_argument("--web.max-connections", dest="max_connections", type=int, default=0,
                   help="connections held open at most; more are closed at once (default 0: half the "
                        "open-files limit)")
    p.add_argument("--web.max-requests", dest="max_requests", type=int, default=40,
                   help="most scrapes (metrics and /probe) served at once, the rest answered 503; 0: no limit")
    p.add_argument("--log.level", dest="log_level", choices=list(logs.LEVELS), default="info",
                   help="only log messages of this severity or above (default info)")
    p.add_argument("--log.format", dest="log_format", choices=["logfmt", "json"], default="logfmt",
                   help="output format of log messages, to standard error (default logfmt)")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the configuration, print every problem, exit 0 or 1")
    p.add_argument("--config.shard", dest="shard", default=None, metavar="INDEX/TOTAL",
                   help="poll only the targets whose name hashes to INDEX of TOTAL, as Prometheus' hashmod "
                        "relabelling does (one config file for several exporter replicas)")
    p.add_argument("--demo", action="store_true",
                   help="poll built-in simulated devices, two SBCs and two PBXs (no config needed)")
    p.add_argument("--version", action="store_true", help="print version, revision and build date, then exit")
    return p


def _duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (expected e.g. 10s, 500ms, 1m)")
    return seconds


def raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard one, as the Go runtime does for every Go exporter: the
    common default of 1,024 is what a systemd service gets without LimitNOFILE, and clients holding
    connections open would otherwise exhaust it and stop /metrics from answering."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # a hard limit the kernel caps lower (nr_open): keep the soft one
            logs.log(logger, logging.DEBUG, "open files limit not raised", soft=soft, hard=hard, error=str(exc))
            return
    logs.log(logger, logging.DEBUG, "open files limit", soft=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
             hard=hard)


@dataclass
class Startup:
    """What serve() starts from: the configuration in force, and what reloads and the demo need."""

    config: Config
    file_config: Config | None = None  # the file as loaded (None: --demo)
    reloader: Reloader | None = None
    demo_runners: list = field(default_factory=list)  # the demo's simulators, stopped at exit
    demo_devices: list = field(default_factory=list)


async def _start_config(args: argparse.Namespace) -> tuple[Startup, Callable[[Engine], Reloader | None]]:
    """The configuration to start with (the file and its inventory, or the demo's), this shard's share, and
    how to make the reloader once the engine exists."""
    shard = parse_shard(args.shard)
    if args.demo:
        from exporter.demo import start_demo  # the simulator is only loaded for the demo

        config, runners, controls = await start_demo()
        return Startup(config.shard(*shard) if shard else config, demo_runners=runners,
                       demo_devices=controls), lambda engine: None
    inventory = Inventory()

    def load() -> Config:
        return load_config(args.config_file)

    def compose(loaded: Config) -> Config:  # the file's targets, the inventory's, and this shard's share
        full = with_inventory(loaded, inventory)
        return full.shard(*shard) if shard else full

    file_config = load()
    inventory.scan(file_config, force=True)  # a broken inventory file is logged; the exporter starts
    return (Startup(compose(file_config), file_config),
            lambda engine: Reloader(engine, load, file_config, inventory, compose))


def _web_security(args: argparse.Namespace) -> tuple[WebSecurity | None, ReloadingContext | None]:
    """The web config's authentication and TLS (--web.config.file), or neither."""
    if not args.web_config:
        return None, None
    from exporter.web.security import WebSecurity
    from exporter.web.tls import ReloadingContext

    ssl_context = None
    if args.web.tls is not None:
        ssl_context = ReloadingContext(lambda: read_web_config(args.web_config), args.web_config)
    security = WebSecurity(args.web_config, args.web)
    for warning in args.web.warnings:  # accepted as Go accepts it; said once
        logs.log(logger, logging.WARNING, "web config accepted with a weak setting", detail=warning)
    return security, ssl_context


async def _listen(runner: web.AppRunner, args: argparse.Namespace, sockets: list,
                  ssl_context: ReloadingContext | None) -> list[str]:
    """Serve on systemd's sockets or on each --web.listen-address; the addresses as a user would open them."""
    shown = []
    scheme = "https" if ssl_context is not None else "http"
    if args.systemd_socket:  # sockets opened by systemd (socket activation), read before anything else runs
        for sock in sockets:
            site = web.SockSite(runner, sock, ssl_context=ssl_context)
            await site.start()
            shown.append(f"{scheme}://{systemd.address(sock)}")
    for listen in [] if args.systemd_socket else args.listen or [DEFAULT_LISTEN]:
        host, port = parse_listen_address(listen)
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise ListenError(listen, exc) from None
        bound = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - port 0 picks one
        shown.append(f"{scheme}://{(f'[{host}]' if host and ':' in host else host) or 'localhost'}:{bound}")
    return shown


def _handle_signals(stop: asyncio.Event, reloader: Reloader | None) -> None:
    """INT and TERM stop; HUP reloads the configuration (ignored, and said, with --demo)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if reloader is not None:
        def on_sighup() -> None:
            async def apply() -> None:
                with contextlib.suppress(ConfigError):  # logged by the reloader; the old config stays
                    await reloader()

            asyncio.ensure_future(apply())

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    else:  # --demo has no file to reload; a HUP must not end it
        loop.add_signal_handler(signal.SIGHUP, lambda: logs.log(
            logger, logging.WARNING, "SIGHUP ignored: reloading needs --config.file (not available with --demo)"))


def _announce(args: argparse.Namespace, start: Startup, shown: list[str], tls: bool, basic_auth: bool) -> None:
    """The "listening" log line, and with --demo the banner naming each simulated device's fault control."""
    config = start.config
    logs.log(logger, logging.INFO, "listening", address=" ".join(shown),
             metrics=" ".join(f"{a}{args.telemetry_path}" for a in shown), tls=tls, basic_auth=basic_auth,
             **{f"{name}_targets": len(config.of_family(name)) for name in FAMILIES}, demo=args.demo,
             shard=args.shard or "-")
    if not args.demo:
        return
    counts = " and ".join(f"{len(config.of_family(f.name))} simulated {f.device_noun}s"
                          for f in FAMILIES.values() if f.demo is not None)
    print(f"Demo: polling {counts}; metrics at {shown[0]}{args.telemetry_path}", flush=True)
    for device in start.demo_devices:
        name = device.target.name
        polled = "" if config.target(name) else " (not polled by this shard)"
        insecure = "-k " if device.faults_url.startswith("https:") else ""  # the demo's self-signed certificate
        print(f"  {name}: inject faults with curl {insecure}-X PATCH {device.faults_url} -d '{device.fault_example}'"
              f"{polled}", flush=True)


async def serve(args: argparse.Namespace) -> int:
    # Before anything else: the sockets systemd passed, and the variables naming them (no child takes them).
    sockets = systemd.listen_sockets() if args.systemd_socket else []
    raise_open_files_limit()
    start, make_reloader = await _start_config(args)
    security, ssl_context = _web_security(args)
    engine = Engine(start.config)
    reloader = make_reloader(engine)
    app = create_app(engine, reloader=reloader, telemetry_path=args.telemetry_path, max_requests=args.max_requests,
                     security=security)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    slowclients.install(runner, connection_limits(engine, security, args.read_header_timeout, args.max_connections))
    shown = await _listen(runner, args, sockets, ssl_context)
    # Polling allocates many short-lived containers and almost no cycles (python_gc_objects_collected_total
    # stays near zero), so the collector mostly scans the long-lived states, and a full pass over a fleet's
    # stalls every scrape behind it. What exists at start-up is frozen out of the scans, and the young
    # generation is collected less often.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    stop = asyncio.Event()
    _handle_signals(stop, reloader)  # before saying it listens: a signal sent right after must find them
    _announce(args, start, shown, ssl_context is not None, bool(security and security.config.users))
    watch = asyncio.create_task(reloader.watch_inventory(), name="inventory") \
        if reloader is not None and start.file_config is not None and start.file_config.inventory_files else None
    await stop.wait()
    logs.log(logger, logging.INFO, "shutting down")
    if watch is not None:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    await runner.cleanup()
    for r in start.demo_runners:
        await r.cleanup()
    return 0


class ListenError(Exception):
    def __init__(self, address: str, exc: OSError):
        super().__init__(f"cannot listen on {address}: {exc.strerror}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mixin"]:  # the shipped dashboards, rules and examples (exporter.bundle)
        from exporter.bundle import main as bundle_main

        return bundle_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    logs.setup(args.log_level, args.log_format)
    try:
        for listen in args.listen or [DEFAULT_LISTEN]:
            parse_listen_address(listen)
        parse_shard(args.shard)
        if not args.telemetry_path.startswith("/") or args.telemetry_path in ("/", "/probe", "/-/healthy",
                                                                               "/-/ready", "/-/reload"):
            raise ValueError(f"invalid --web.telemetry-path {args.telemetry_path!r}: a path starting with / "
                             "other than /, /probe and /-/...")
        if args.max_requests < 0:
            raise ValueError(f"invalid --web.max-requests {args.max_requests}: 0 (no limit) or more")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.web_config:
        # Checked once, before anything starts: unreadable TLS material stops the start, as in the toolkit.
        try:
            args.web = read_web_config(args.web_config)
            if args.web.tls is not None:
                from exporter.web.tls import build_context

                build_context(args.web.tls)
        except WebConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
    if args.config_check:
        try:
            config = load_config(args.config_file)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
        inventory = Inventory()
        inventory.scan(config, force=True, report=False)
        if inventory.problems():
            for problem in inventory.problems():
                print(problem, file=sys.stderr)
            return 1
        config = with_inventory(config, inventory)
        counts = " and ".join(f"{len(config.of_family(f.name))} {f.title}" for f in FAMILIES.values())
        files = f" ({len(inventory.files)} inventory file(s))" if inventory.files else ""
        print(f"{args.config_file}: OK, {counts} target(s){files}")
        if args.web_config:
            print(f"{args.web_config}: OK")
        return 0
    # Parse threads hold the GIL in slices of the switch interval (5 ms by default), and the event loop waits
    # a slice each time it needs the GIL back: at 1 ms a scrape waits less behind a busy fleet's parsing.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return asyncio.run(serve(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except systemd.SystemdSocketError as exc:
        print(exc, file=sys.stderr)
        return 1
    except WebConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

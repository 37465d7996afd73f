"""The exporter's own metrics: poll counts, errors by reason, durations, process metrics.

These are real counters that only grow, so prometheus_client's Counter/Histogram are the right tool here
(unlike device values, which are rebuilt from snapshots). They live in the exporter's own registry, never the
global one, and are served on /metrics only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from exporter.buildinfo import build_info

if TYPE_CHECKING:
    from exporter.budget import ByteBudget
    from exporter.devicefamily import Family, FamilyMetrics

# `_created` series double the exporter's own series in the text format and no dashboard uses them.
disable_created_metrics()

PREFIX = "vsxi_xivo_exporter"
PROBE_UNKNOWN_KEEP = 20
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)



class SelfMetrics:
    def __init__(self, families: Iterable[Family] = ()) -> None:
        """``families``: those whose own metrics (``Family.self_metrics``) this process has, in ``of_family``."""
        self.registry = CollectorRegistry()
        self.of_family: dict[str, FamilyMetrics] = {
            f.name: f.self_metrics(self.registry) for f in families if f.self_metrics is not None}
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._identity()
        self._polling()
        self._configuration()
        self._serving()
        self._memory()
        self._http_clients()
        self._inventory_and_cache()

    def _identity(self) -> None:
        """What runs: the build, and the targets it was given."""
        self.build = Info(f"{PREFIX}_build", "Version, git revision and branch, build date and Python of the exporter.",
                          registry=self.registry)
        self.build.info(build_info())
        self.targets = Gauge(f"{PREFIX}_targets", "Configured targets by device family.", ["family"],
                             registry=self.registry)

    def _polling(self) -> None:
        """Polls, requests to devices, their errors, durations, slots and pauses."""
        self.polls = Counter(f"{PREFIX}_polls_total", "Polls of one device table (one collector), retries "
                             "included in one poll.", ["family", "target", "collector"], registry=self.registry)
        self.poll_errors = Counter(f"{PREFIX}_poll_errors_total", "Failed polls of one device table, by reason.",
                                   ["family", "target", "collector", "reason"], registry=self.registry)
        self.requests = Counter(f"{PREFIX}_device_requests_total", "HTTP requests sent to devices, retries "
                                "included, by outcome (ok or an error reason).", ["family", "target", "outcome"],
                                registry=self.registry)
        self.poll_duration = Histogram(f"{PREFIX}_poll_duration_seconds", "Duration of one device table poll "
                                       "(requests, retries, parsing).", ["family", "collector"],
                                       buckets=POLL_BUCKETS, registry=self.registry)
        self.slot_wait = Histogram(f"{PREFIX}_slot_wait_seconds", "Time a poll waited for one of "
                                   "global.max_concurrent_targets slots, to send a request or to read an answer. "
                                   "A device that does not answer holds none past 250 ms: this stays near 0 "
                                   "through an outage.",
                                   ["family"], buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10),
                                   registry=self.registry)
        self.auth_failures = Counter(f"{PREFIX}_auth_failures_total", "Poll rounds stopped by an authentication "
                                     "failure, by reason.", ["family", "target", "reason"], registry=self.registry)
        self.backoff_until = Gauge(f"{PREFIX}_backoff_until_timestamp_seconds", "Unix time until which the "
                                   "device asked not to be polled (Retry-After on a 429 or 503); 0 when polled "
                                   "normally.", ["family", "target"], registry=self.registry)

    def _configuration(self) -> None:
        """The configuration in force."""
        self.reload_successful = Gauge(f"{PREFIX}_config_last_reload_successful", "1 when the last configuration "
                                       "reload (SIGHUP or POST /-/reload) succeeded.", registry=self.registry)
        self.reload_successful.set(1)  # the configuration it started with was valid (--demo has no file at all)
        self.reload_timestamp = Gauge(f"{PREFIX}_config_last_reload_success_timestamp_seconds", "Unix time of the "
                                      "last successful configuration load.", registry=self.registry)

    def _serving(self) -> None:
        """The exporter's own event loop and what it serves."""
        self.tasks = Gauge(f"{PREFIX}_asyncio_tasks", "Asyncio tasks alive in the exporter's event loop: steady "
                           "for a given configuration (about one per target); growth means a leak.",
                           registry=self.registry)
        self.scrapes = Counter(f"{PREFIX}_http_requests_total", "Requests served by the exporter, by handler "
                               "and status code.", ["handler", "code"], registry=self.registry)
        self.encode_duration = Histogram(f"{PREFIX}_encode_duration_seconds", "Time to build and encode a "
                                         "/metrics or /probe answer.", ["handler"],
                                         buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                                         registry=self.registry)
        for handler in ("metrics", "probe"):  # present from the start, not from the first request
            self.encode_duration.labels(handler)
        self.probe_unknown = Gauge(f"{PREFIX}_probe_unknown_target_last_timestamp_seconds", "Unix time /probe "
                                   "last refused this target name as not configured here (400): a Prometheus "
                                   "job probes a device this exporter (or this shard) does not poll. The "
                                   f"{PROBE_UNKNOWN_KEEP} most recent names.", ["target"], registry=self.registry)
        self._unknown: dict[str, None] = {}  # refused names, oldest first

    def _memory(self) -> None:
        """The answer-bytes budget (the memory model's variable term)."""
        # The answer-bytes budget (global.max_in_flight_bytes), read at each scrape: its size, what is held
        # now and the most ever held at once. Memory = base + this budget + workers, and these show the term.
        self.in_flight = Gauge(f"{PREFIX}_in_flight_bytes", "Bytes of device answers held right now, being read "
                               "or parsed (drawn from global.max_in_flight_bytes).", registry=self.registry)
        self.in_flight_peak = Gauge(f"{PREFIX}_in_flight_peak_bytes", "The most answer bytes held at once since "
                                    "the exporter started (or global.max_in_flight_bytes last changed).",
                                    registry=self.registry)
        self.in_flight_limit = Gauge(f"{PREFIX}_in_flight_limit_bytes", "global.max_in_flight_bytes: the answer "
                                     "bytes the exporter holds at most at once.", registry=self.registry)

    def _http_clients(self) -> None:
        """The exporter's HTTP clients, and the broken or hostile ones."""
        self.malformed_requests = Counter(f"{PREFIX}_malformed_requests_total", "HTTP requests to the exporter "
                                          "it could not parse (request line or header over 8 KiB, bad framing), "
                                          "answered 400; logged as one summary line per minute at most.",
                                          registry=self.registry)
        self.slow_clients_closed = Counter(f"{PREFIX}_http_slow_clients_closed_total", "Connections to the "
                                           "exporter closed because a request's head was not complete within "
                                           "--web.read-header-timeout (slowloris).", registry=self.registry)
        self.connections_refused = Counter(f"{PREFIX}_http_connections_refused_total", "Connections to the "
                                           "exporter closed at once because --web.max-connections were open.",
                                           registry=self.registry)
        self.client_certificates_refused = Counter(
            f"{PREFIX}_http_client_certificates_refused_total", "Connections to the exporter closed as their TLS "
            "handshake ended: the client certificate has none of the web config's client_allowed_sans.",
            registry=self.registry)
        self.accept_errors = Counter(f"{PREFIX}_http_accept_errors_total", "Connections the exporter could not "
                                     "accept (no file descriptor left: EMFILE, ENFILE).", registry=self.registry)
        self.connections = Gauge(f"{PREFIX}_http_connections", "Connections to the exporter open now.",
                                 registry=self.registry)

    def _inventory_and_cache(self) -> None:
        """Inventory files, and the exposition held ready to serve."""
        self.inventory_targets = Gauge(f"{PREFIX}_inventory_file_targets", "Targets an inventory file gives (its "
                                       "last good list while it is broken).", ["file"], registry=self.registry)
        self.inventory_ok = Gauge(f"{PREFIX}_inventory_file_ok", "1 when the inventory file's last read was "
                                  "applied; 0 when it could not be (unreadable, invalid, a duplicate name): its "
                                  "last good targets are kept.", ["file"], registry=self.registry)
        self.cached_exposition = Gauge(f"{PREFIX}_cached_exposition_bytes", "Bytes of exposition held ready to "
                                       "serve, compressed: every target's series as rendered at its tables' last "
                                       "successful polls, and its status series.", registry=self.registry)
        self.cached_exposition_text = Gauge(f"{PREFIX}_cached_exposition_text_bytes", "The same exposition as "
                                            "text: what the device part of /metrics is without gzip.",
                                            registry=self.registry)

    def watch_budget(self, budget: Callable[[], ByteBudget | None]) -> None:
        """Read the byte budget at each scrape (``budget()`` gives the one in force: a reload may replace it)."""
        self.in_flight.set_function(lambda: (b := budget()) and b.used or 0)
        self.in_flight_peak.set_function(lambda: (b := budget()) and b.high_water or 0)
        self.in_flight_limit.set_function(lambda: (b := budget()) and b.limit or 0)

    def probe_refused(self, name: str, now: float) -> None:
        """Remember a refused /probe target name. The name comes from the request, so the label set is bounded:
        the newest PROBE_UNKNOWN_KEEP names, unprintable or long ones folded into one."""
        if not name.isprintable() or len(name) > 64:
            name = "(unprintable or longer than 64 characters)"
        self._unknown.pop(name, None)
        self._unknown[name] = None
        if len(self._unknown) > PROBE_UNKNOWN_KEEP:
            oldest = next(iter(self._unknown))
            del self._unknown[oldest]
            self.probe_unknown.remove(oldest)
        self.probe_unknown.labels(name).set(now)

    def watch_tasks(self, loop: asyncio.AbstractEventLoop) -> None:
        """Count ``loop``'s tasks at each scrape (asyncio.all_tasks is safe from the encoding thread)."""
        self.tasks.set_function(lambda: len(asyncio.all_tasks(loop)))

    def reference(self) -> list[tuple[str, str, tuple[str, ...], str]]:
        """(name, type, labels, help) of every exporter metric, for docs/metrics.md."""
        out = []
        for metric in (self.build, self.targets, self.polls, self.poll_errors, self.requests, self.poll_duration,
                       self.slot_wait, self.auth_failures, self.backoff_until, self.tasks,
                       self.reload_successful, self.reload_timestamp,
                       self.scrapes, self.encode_duration, self.probe_unknown, self.in_flight,
                       self.in_flight_peak, self.in_flight_limit, self.cached_exposition,
                       self.cached_exposition_text, self.inventory_targets, self.inventory_ok,
                       self.malformed_requests, self.slow_clients_closed, self.connections_refused,
                       self.client_certificates_refused, self.accept_errors, self.connections):
            type_ = metric._type  # noqa: SLF001 - prometheus_client keeps these private
            name = metric._name + {"counter": "_total", "info": "_info"}.get(type_, "")  # noqa: SLF001
            labels = metric._labelnames if type_ != "info" else tuple(sorted(build_info()))  # noqa: SLF001
            out.append((name, type_, tuple(labels), metric._documentation))  # noqa: SLF001
        for family in self.of_family.values():  # what only one family has, after the common ones
            for metric in family.all():
                name = metric._name + ("_total" if metric._type == "counter" else "")  # noqa: SLF001
                out.append((name, metric._type, tuple(metric._labelnames), metric._documentation))  # noqa: SLF001
        return out

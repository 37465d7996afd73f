"""The status gauges of a target and of each of its collectors, rendered to exposition bytes.

Rendered by the poller once per round, so that a scrape never encodes:

    acme_up{target="dev-1"} 1.0
    acme_collector_success{collector="status",target="dev-1"} 1.0
    acme_collector_last_success_timestamp_seconds{collector="status",target="dev-1"} 1.8e+09

Which series a device family has is its ``StatusSpecs`` (every family has ``<family>_up`` and the four
per-collector series; some add a standby flag, a target info series or more per-collector series): this module
knows no family. It runs after every round of every target, so it does not go through ``Builder``: a target's
label prefixes come from one template per series (``_prefix``), a collector's label block is written once per
round and shared by its series, and a round costs a few dozen string formats,
held uncompressed (exporter.packed.store: a few lines each, compression would cost more than it saves).
The bytes are the same as Builder's (tests/test_exposition.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from exporter.catalog import Catalog, Spec, escape_label, go_float
from exporter.packed import Chunk, store
from exporter.polling.state import CollectorState

# Series every target has whatever its family, declared once (exposition order 0: before the families').
CATALOG = Catalog(order=0)
TARGET_INFO = CATALOG.gauge(
    "vsxi_xivo_target_info", ("target", "family", "profile"),
    "1 per configured target, with its device family, its profile (empty: none) and the operator's own labels "
    "from the configuration (labels:), to join onto device series in PromQL, e.g. "
    "* on (target) group_left (site) vsxi_xivo_target_info.", "status")
CERTIFICATE_EXPIRY = CATALOG.gauge(
    "vsxi_xivo_target_certificate_expiry_timestamp_seconds", ("target",),
    "Unix time the certificate the device last presented expires (its notAfter), read on each new TLS "
    "connection whether or not it is verified; absent for http:// targets and before the first connection.",
    "status")


def _always(target: Any) -> bool:
    return True


def _no_info(target: Any) -> str | None:
    return None


@dataclass(frozen=True)
class CollectorSeries:
    """One status series per collector: its spec (labels target, collector), its value from the collector's
    state and the poller's note on it (BasePoller.collector_note; None: no sample), and whether a target has
    it at all."""

    spec: Spec
    value: Callable[[CollectorState, Any], float | None]
    present: Callable[[Any], bool] = _always

    def __post_init__(self):
        if self.spec.labels != ("target", "collector"):  # StatusRenderer.collectors fills them in this order
            raise ValueError(f"{self.spec.name}: a collector status series has the labels (target, collector), "
                             f"not {self.spec.labels}")


@dataclass(frozen=True)
class StatusSpecs:
    """A device family's status series."""

    up: Spec  # labels (target,)
    collector: tuple[CollectorSeries, ...]
    standby: Spec | None = None  # labels (target,): 1 while the node refuses polls as an HA standby
    standby_text: str = "standby"  # how the landing page says it
    info: Spec | None = None  # labels (target, one configured value), value 1
    info_of: Callable[[Any], str | None] = _no_info  # that configured value of a target, None: no series

    def __post_init__(self) -> None:
        names = tuple(s.spec.name for s in self.collector[:len(COMMON_SUFFIXES)])
        if len(names) < len(COMMON_SUFFIXES) or not all(
                n.endswith(suffix) for n, suffix in zip(names, COMMON_SUFFIXES, strict=True)):
            raise ValueError(f"{self.up.name}: a family's collector series start with the common four "
                             f"(common_collector_series: {', '.join(COMMON_SUFFIXES)}), not {names}")

    @property
    def common(self) -> tuple[Spec, ...]:
        """The four series every family has, in the order of COMMON_SUFFIXES (what the mixin's collector alerts
        and exporter-health panels are generated from, for every registered family)."""
        return tuple(s.spec for s in self.collector[:len(COMMON_SUFFIXES)])


# The four series every family has, in exposition order; a family's specs name them, first.
COMMON_SUFFIXES = ("_collector_success", "_collector_last_success_timestamp_seconds", "_collector_duration_seconds",
                   "_collector_response_bytes")


def common_collector_series(success: Spec, last_success: Spec, duration: Spec,
                            response_bytes: Spec) -> tuple[CollectorSeries, ...]:
    return (CollectorSeries(success, lambda c, note: 1.0 if c.success else 0.0),
            CollectorSeries(last_success, lambda c, note: c.last_success),
            CollectorSeries(duration, lambda c, note: c.duration),
            CollectorSeries(response_bytes, lambda c, note: c.response_bytes))


_TEMPLATES: dict[int, tuple[str, tuple[int, ...]]] = {}  # spec index -> (prefix template, label order)


def _prefix(spec: Spec, labels: tuple[str, ...]) -> str:
    """``name{label="value",...} `` with the labels in name order (prometheus-client's), values escaped. The
    template is made once per spec for every target: a target holds no rendered prefixes (they were ~9 kB of
    each target's memory)."""
    template = _TEMPLATES.get(spec.index)
    if template is None:
        order = tuple(sorted(range(len(spec.labels)), key=spec.labels.__getitem__))
        text = spec.name.replace("%", "%%") + "{" + ",".join(f'{spec.labels[i]}="%s"' for i in order) + "} "
        template = _TEMPLATES[spec.index] = (text, order)
    text, order = template
    return text % tuple(escape_label(labels[i]) for i in order)


class StatusRenderer:
    """One per target: what it needs to render its status lines (its name, which series it has)."""

    def __init__(self, specs: StatusSpecs, target: Any):
        self._name = target.name
        self._name_escaped = escape_label(target.name)
        self._specs = specs
        info = specs.info_of(target) if specs.info is not None else None
        self._info = (specs.info.section, (_prefix(specs.info, (self._name, info)) + "1.0\n").encode()) \
            if info else None
        self._series = tuple(s for s in specs.collector if s.present(target))
        labels = sorted([("family", target.family), ("profile", target.profile), ("target", target.name),
                         *target.labels])
        self._target_info = (TARGET_INFO.section, (TARGET_INFO.name + "{" + ",".join(
            f'{k}="{escape_label(v)}"' for k, v in labels) + "} 1.0\n").encode())

    def target(self, up: bool, standby: bool, certificate_expiry: float | None = None) -> Chunk:
        specs, labels = self._specs, (self._name,)
        out = [(specs.up.section, (_prefix(specs.up, labels) + ("1.0\n" if up else "0.0\n")).encode())]
        if self._info is not None:
            out.append(self._info)
        out.append(self._target_info)
        if certificate_expiry is not None:
            out.append((CERTIFICATE_EXPIRY.section,
                        f"{_prefix(CERTIFICATE_EXPIRY, labels)}{go_float(certificate_expiry)}\n".encode()))
        out.sort(key=lambda part: part[0])  # a chunk's sections in order
        if specs.standby is not None:
            out.append((specs.standby.section,
                        (_prefix(specs.standby, labels) + ("1.0\n" if standby else "0.0\n")).encode()))
        return store(out)

    def collectors(self, states: Iterable[CollectorState], note: Callable[[str], Any] = lambda collector: None) \
            -> Chunk:
        """Every collector's status lines in one chunk, a piece per series (the collectors in their order within
        it): rendered once per round, not once per poll. Every collector series has the labels (target,
        collector) (CollectorSeries checks it), so a collector's label block is written once per round and
        shared by its series' lines."""
        blocks = [(c, f'{{collector="{_escaped(c.collector)}",target="{self._name_escaped}"}} ',
                   note(c.collector)) for c in states]
        out = []
        for series in self._series:
            name, value, lines = series.spec.name, series.value, []
            for c, block, noted in blocks:
                v = value(c, noted)
                if v is not None:
                    lines.append(name + block + go_float(float(v)) + "\n")
            if lines:
                out.append((series.spec.section, "".join(lines).encode()))
        out.sort(key=lambda part: part[0])  # a chunk's sections in order
        return store(out)


_ESCAPED: dict[str, str] = {}  # collector name -> escaped (a family has a handful)


def _escaped(value: str) -> str:
    escaped = _ESCAPED.get(value)
    if escaped is None:
        escaped = _ESCAPED[value] = escape_label(value)
    return escaped

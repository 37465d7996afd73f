"""The status gauges of a target and of each of its collectors, rendered to exposition bytes.

Rendered by the poller whenever a state changes, so that a scrape never encodes:

    vsxi_up{target="sbc-1"} 1.0
    vsxi_collector_success{collector="realtime",target="sbc-1"} 1.0
    vsxi_collector_last_success_timestamp_seconds{collector="realtime",target="sbc-1"} 1.8e+09

Which series a device family has is its ``StatusSpecs`` (every family has ``<family>_up`` and the four
per-collector series; some add a standby flag, a target info series or more per-collector series): this module
knows no family. It runs after every poll of every table, so it does not go through ``Builder``: a target's
label prefixes are rendered once (``StatusRenderer``) and a state change costs a few string concatenations,
held uncompressed (exporter.packed.store: a line each, compression would cost more than it saves).
The bytes are the same as Builder's (tests/test_exposition.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.catalog import Spec, escape_label, go_float
from exporter.engine.state import CollectorState
from exporter.packed import Chunk, store


def _always(target: Any) -> bool:
    return True


def _no_info(target: Any) -> str | None:
    return None


@dataclass(frozen=True)
class CollectorSeries:
    """One status series per collector: its spec (labels target, collector), its value from the collector's
    state and whether its JSON fallback is on (None: no sample), and whether a target has it at all."""

    spec: Spec
    value: Callable[[CollectorState, bool], float | None]
    present: Callable[[Any], bool] = _always


@dataclass(frozen=True)
class StatusSpecs:
    """A device family's status series."""

    up: Spec  # labels (target,)
    collector: tuple[CollectorSeries, ...]
    standby: Spec | None = None  # labels (target,): 1 while the node refuses polls as an HA standby
    standby_text: str = "standby"  # how the landing page says it
    info: Spec | None = None  # labels (target, one configured value), value 1
    info_of: Callable[[Any], str | None] = _no_info  # that configured value of a target, None: no series


# The four series every family has, in exposition order; a family's specs name them.
def common_collector_series(success: Spec, last_success: Spec, duration: Spec,
                            response_bytes: Spec) -> tuple[CollectorSeries, ...]:
    return (CollectorSeries(success, lambda c, fallback: 1.0 if c.success else 0.0),
            CollectorSeries(last_success, lambda c, fallback: c.last_success),
            CollectorSeries(duration, lambda c, fallback: c.duration),
            CollectorSeries(response_bytes, lambda c, fallback: c.response_bytes))


def _prefix(spec: Spec, labels: tuple[str, ...]) -> str:
    pairs = sorted(zip(spec.labels, labels, strict=True))
    return spec.name + "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs) + "} "


class StatusRenderer:
    """One per target: its label prefixes, rendered once."""

    def __init__(self, specs: StatusSpecs, target: Any):
        name = target.name
        self._up = (specs.up.section, _prefix(specs.up, (name,)))
        info = specs.info_of(target) if specs.info is not None else None
        self._info = (specs.info.section, _prefix(specs.info, (name, info)) + "1.0\n") if info else None
        self._standby = (specs.standby.section, _prefix(specs.standby, (name,))) if specs.standby else None
        series = [s for s in specs.collector if s.present(target)]
        self._values = [s.value for s in series]
        self._collectors = {c: [(s.spec.section, _prefix(s.spec, (name, c))) for s in series]
                            for c in target.collectors}

    def target(self, up: bool, standby: bool) -> Chunk:
        out = [(self._up[0], (self._up[1] + ("1.0\n" if up else "0.0\n")).encode())]
        if self._info is not None:
            out.append((self._info[0], self._info[1].encode()))
        if self._standby is not None:
            out.append((self._standby[0], (self._standby[1] + ("1.0\n" if standby else "0.0\n")).encode()))
        return store(out)

    def collector(self, c: CollectorState, json_fallback: bool = False) -> Chunk:
        out = []
        for (section, prefix), value in zip(self._collectors[c.collector], self._values, strict=True):
            v = value(c, json_fallback)
            if v is not None:
                out.append((section, (prefix + go_float(float(v)) + "\n").encode()))
        return store(out)

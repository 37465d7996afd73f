"""The status gauges of a target and of each of its collectors, rendered to exposition bytes.

Rendered by the poller whenever a state changes, so that a scrape never encodes:

    vsxi_up{target="sbc-1"} 1.0
    vsxi_collector_success{collector="realtime",target="sbc-1"} 1.0
    vsxi_collector_last_success_timestamp_seconds{collector="realtime",target="sbc-1"} 1.8e+09

This runs after every poll of every table, so it does not go through ``Builder``: a target's label prefixes
are rendered once (``StatusRenderer``) and a state change costs a few string concatenations. The bytes are
the same as Builder's (tests/test_exposition.py compares them).
"""

from __future__ import annotations

from exporter.engine.state import CollectorState
from exporter.families import Chunk, Spec, escape_label, go_float
from exporter.vsxi import metrics as vm
from exporter.xivo import metrics as xm


def _prefix(spec: Spec, labels: tuple[str, ...]) -> str:
    pairs = sorted(zip(spec.labels, labels, strict=True))
    return spec.name + "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs) + "} "


class StatusRenderer:
    """One per target: its label prefixes, rendered once."""

    def __init__(self, family: str, target: str, collectors: tuple[str, ...], json_configured: bool = False,
                 ha_group: str | None = None):
        m = vm if family == "vsxi" else xm
        self.vsxi = family == "vsxi"
        self.json_configured = json_configured
        self._up = (m.UP.section, _prefix(m.UP, (target,)))
        self._info = (vm.TARGET_INFO.section, _prefix(vm.TARGET_INFO, (target, ha_group)) + "1.0\n") \
            if ha_group and self.vsxi else None
        self._standby = (vm.STANDBY.section, _prefix(vm.STANDBY, (target,)))
        specs = [m.COLLECTOR_SUCCESS, m.COLLECTOR_LAST_SUCCESS, m.COLLECTOR_DURATION, m.COLLECTOR_BYTES]
        if self.vsxi:
            specs += [vm.COLLECTOR_UNMAPPED, vm.COLLECTOR_DUPLICATES, vm.COLLECTOR_FALLBACK]
        self._collectors = {c: [(s.section, _prefix(s, (target, c))) for s in specs] for c in collectors}

    def target(self, up: bool, standby: bool) -> Chunk:
        out = [(self._up[0], (self._up[1] + ("1.0\n" if up else "0.0\n")).encode())]
        if self.vsxi:
            if self._info is not None:
                out.append((self._info[0], self._info[1].encode()))
            out.append((self._standby[0], (self._standby[1] + ("1.0\n" if standby else "0.0\n")).encode()))
        return tuple(out)

    def collector(self, c: CollectorState, json_fallback: bool = False) -> Chunk:
        values = [1.0 if c.success else 0.0, c.last_success, c.duration, c.response_bytes]
        if self.vsxi:
            values += [c.unmapped_fields, c.duplicate_rows,
                       (1.0 if json_fallback else 0.0) if self.json_configured else None]
        return tuple((section, (prefix + go_float(float(value)) + "\n").encode())
                     for (section, prefix), value in zip(self._collectors[c.collector], values, strict=False)
                     if value is not None)

"""The status gauges of a target and of each of its collectors, rendered to exposition bytes.

Rendered by the poller whenever a state changes (a handful of samples), so that a scrape never encodes:

    vsxi_up{target="sbc-1"} 1.0
    vsxi_collector_success{collector="realtime",target="sbc-1"} 1.0
    vsxi_collector_last_success_timestamp_seconds{collector="realtime",target="sbc-1"} 1.8e+09
"""

from __future__ import annotations

from exporter.engine.state import CollectorState
from exporter.families import Builder, Chunk
from exporter.vsxi import metrics as vm
from exporter.xivo import metrics as xm


def target_status(family: str, target: str, up: bool, standby: bool, ha_group: str | None) -> Chunk:
    b = Builder()
    b.add((vm if family == "vsxi" else xm).UP, (target,), 1.0 if up else 0.0)
    if family == "vsxi":
        if ha_group:
            b.add(vm.TARGET_INFO, (target, ha_group), 1.0)
        b.add(vm.STANDBY, (target,), 1.0 if standby else 0.0)
    return b.chunk()


def collector_status(family: str, target: str, c: CollectorState, json_configured: bool = False,
                     json_fallback: bool = False) -> Chunk:
    m = vm if family == "vsxi" else xm
    b = Builder()
    labels = (target, c.collector)
    b.add(m.COLLECTOR_SUCCESS, labels, 1.0 if c.success else 0.0)
    b.add(m.COLLECTOR_LAST_SUCCESS, labels, c.last_success)
    b.add(m.COLLECTOR_DURATION, labels, c.duration)
    b.add(m.COLLECTOR_BYTES, labels, c.response_bytes)
    if family == "vsxi":
        b.add(vm.COLLECTOR_UNMAPPED, labels, c.unmapped_fields)
        b.add(vm.COLLECTOR_DUPLICATES, labels, c.duplicate_rows)
        if json_configured:
            b.add(vm.COLLECTOR_FALLBACK, labels, 1.0 if json_fallback else 0.0)
    return b.chunk()

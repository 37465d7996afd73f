"""The XiVO / Wazo collectors: each a fetch (one or a few requests, ``fetch.py``), a parser and a builder; the
one table naming them.

Loaded by the parse workers (``parse_and_build``), which must not import the HTTP stack: a collector's fetch
is named here (``Fetch``), and the poller, which does the I/O, calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter import devicefamily
from exporter.devicefamily import ParseResult
from exporter.xivo import metrics as m
from exporter.xivo import parse as p


@dataclass(frozen=True)
class Fetch:
    """What a collector requests: ``fetch.<function>(client, *(poller.<attribute>, ...))``."""

    function: str
    poller_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class XivoCollector(devicefamily.Collector):
    fetch: Fetch


COLLECTORS: dict[str, XivoCollector] = {c.name: c for c in (  # in poll order
    XivoCollector("objects", p.parse_objects, m.build_objects, Fetch("fetch_objects", ("unsupported",))),
    XivoCollector("devices", p.parse_devices, m.build_devices, Fetch("fetch_devices")),
    XivoCollector("agents", p.parse_agents, m.build_agents, Fetch("fetch_agents")),
    XivoCollector("queues", p.parse_queue_summary, m.build_queues, Fetch("fetch_queues")),
    XivoCollector("queue_status", p.parse_queue_status, m.build_queue_status, Fetch("fetch_queue_status", ("target",))),
    XivoCollector("channels", p.parse_channels, m.build_channels, Fetch("fetch_channels")),
    XivoCollector("sip", p.parse_sip, m.build_sip, Fetch("fetch_sip")),
)}


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    """Runs in a parse worker, like the VSXi one."""
    return devicefamily.parse_collector(COLLECTORS, collector, target, answer)

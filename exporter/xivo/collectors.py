"""The XiVO / Wazo collectors: each a parser and a builder; the one table naming them, in poll order.

Loaded by the parse workers (``parse_and_build``), which must not import the HTTP stack: how each collector is
requested is the poller's table (``poller.FETCHES``, functions of ``fetch.py``), checked against this one.
"""

from __future__ import annotations

from typing import Any

from exporter import devicefamily
from exporter.devicefamily import Collector, ParseResult
from exporter.xivo import metrics as m
from exporter.xivo import parse as p

COLLECTORS: dict[str, Collector] = {c.name: c for c in (  # in poll order
    Collector("objects", p.parse_objects, m.build_objects),
    Collector("devices", p.parse_devices, m.build_devices),
    Collector("agents", p.parse_agents, m.build_agents),
    Collector("queues", p.parse_queue_summary, m.build_queues),
    Collector("queue_status", p.parse_queue_status, m.build_queue_status),
    Collector("channels", p.parse_channels, m.build_channels),
    Collector("sip", p.parse_sip, m.build_sip),
)}


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    """Runs in a parse worker, like the VSXi one."""
    return devicefamily.parse_collector(COLLECTORS, collector, target, answer)

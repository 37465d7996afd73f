"""The XiVO / Wazo collectors: each a fetch (one or a few requests, ``fetch.py``), a parser and a builder; the
one table naming them.

Loaded by the parse workers (``parse_and_build``), which must not import the HTTP stack: a collector's fetch
imports ``fetch.py`` when the poller first calls it, never at import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from exporter import devicefamily
from exporter.devicefamily import ParseResult
from exporter.xivo import metrics as m
from exporter.xivo import parse as p


@dataclass(frozen=True)
class XivoCollector(devicefamily.Collector):
    fetch: Callable[[Any], Awaitable[Any]] = None  # (poller) -> the answers parse reads


def _fetch(function: str, *poller_attributes: str) -> Callable[[Any], Awaitable[Any]]:
    """A collector's fetch: ``fetch.<function>(poller.client, *poller.<attributes>)``, its module imported when
    first called, not at import (see the module's docstring)."""

    async def fetch(poller):
        from exporter.xivo import fetch as requests

        return await getattr(requests, function)(poller.client, *(getattr(poller, a) for a in poller_attributes))

    return fetch


COLLECTORS: dict[str, XivoCollector] = {c.name: c for c in (  # in poll order
    XivoCollector("objects", p.parse_objects, m.build_objects, _fetch("fetch_objects", "unsupported")),
    XivoCollector("devices", p.parse_devices, m.build_devices, _fetch("fetch_devices")),
    XivoCollector("agents", p.parse_agents, m.build_agents, _fetch("fetch_agents")),
    XivoCollector("queues", p.parse_queue_summary, m.build_queues, _fetch("fetch_queues")),
    XivoCollector("queue_status", p.parse_queue_status, m.build_queue_status, _fetch("fetch_queue_status", "target")),
    XivoCollector("channels", p.parse_channels, m.build_channels, _fetch("fetch_channels")),
    XivoCollector("sip", p.parse_sip, m.build_sip, _fetch("fetch_sip")),
)}


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    """Runs in a parse worker, like the VSXi one."""
    return devicefamily.parse_and_build(COLLECTORS, collector, target, answer)

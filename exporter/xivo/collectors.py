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


async def _objects(poller):
    from exporter.xivo import fetch  # not at import: see the module's docstring

    return await fetch.fetch_objects(poller.client, poller.unsupported)


async def _devices(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_devices(poller.client)


async def _agents(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_agents(poller.client)


async def _queues(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_queues(poller.client)


async def _queue_status(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_queue_status(poller.client, poller.target)


async def _channels(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_channels(poller.client)


async def _sip(poller):
    from exporter.xivo import fetch

    return await fetch.fetch_sip(poller.client)


COLLECTORS: dict[str, XivoCollector] = {c.name: c for c in (  # in poll order
    XivoCollector("objects", p.parse_objects, m.build_objects, _objects),
    XivoCollector("devices", p.parse_devices, m.build_devices, _devices),
    XivoCollector("agents", p.parse_agents, m.build_agents, _agents),
    XivoCollector("queues", p.parse_queue_summary, m.build_queues, _queues),
    XivoCollector("queue_status", p.parse_queue_status, m.build_queue_status, _queue_status),
    XivoCollector("channels", p.parse_channels, m.build_channels, _channels),
    XivoCollector("sip", p.parse_sip, m.build_sip, _sip),
)}


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    """Runs in a parse worker, like the VSXi one."""
    return devicefamily.parse_and_build(COLLECTORS, collector, target, answer)

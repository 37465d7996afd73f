"""Immutable poll results: what the server reads, what the pollers replace.

The event loop is single-threaded, so replacing a dict entry with a new frozen object is atomic for readers:
a scrape never sees half a round. A poller publishes a target's state once per round, when the round ends
(exporter.polling.poller): each collector's record of that round and the target's status gauges, rendered
once for all its collectors. Each state carries its exposition bytes (``Chunk``, see exporter.packed): the
data of a collector's last success, rendered in the parse worker, and the status gauges, so that serving only
joins bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.packed import EMPTY, Chunk


@dataclass(frozen=True)
class CollectorState:
    collector: str
    success: bool = False
    chunk: Chunk = EMPTY  # device metrics of the last success, rendered (held compressed)
    samples: int = 0  # how many samples ``chunk`` holds
    last_success: float | None = None  # unix time
    duration: float | None = None
    response_bytes: int | None = None
    facts: Any = None  # what the last successful answer told beside its series (devicefamily.ParseResult.facts)
    reason: str | None = None  # last error reason (bounded token) while failing
    error: str | None = None  # last error message while failing


@dataclass(frozen=True)
class TargetState:
    name: str
    interval: float
    collectors: dict[str, CollectorState] = field(default_factory=dict)
    rounds: int = 0
    up: bool = False
    standby: bool = False
    family: str = ""  # the device family (registry name): set by the poller
    status: Chunk = EMPTY  # the target's own status gauges (<family>_up, standby, target info)
    collector_status: Chunk = EMPTY  # every collector's status gauges, rendered from its record

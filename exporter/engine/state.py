"""Immutable poll results: what the server reads, what the pollers replace.

The event loop is single-threaded, so replacing a dict entry with a new frozen object is atomic for readers:
a scrape never sees half a poll.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.core import Metric


@dataclass(frozen=True)
class CollectorState:
    collector: str
    success: bool = False
    families: tuple[Metric, ...] = ()  # device metrics of the last success
    last_success: float | None = None  # unix time
    duration: float | None = None
    response_bytes: int | None = None
    unmapped_fields: int | None = None
    duplicate_rows: int | None = None
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
    json_fallback: frozenset[str] = frozenset()
    family: str = "vsxi"

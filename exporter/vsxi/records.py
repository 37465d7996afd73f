"""Typed, immutable records parsed from the VSXi stats tables.

A parse worker reduces each answer to these (never keeping raw bodies), so a 100k-row table becomes its
aggregates at parse time; the builders in metrics.py render them to series in the same worker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UnmappedField:
    """A numeric field the exporter has no mapping for (a firmware with other fields, or an assumed table)."""

    section: str  # the table inside the answer (mysqldump table name)
    field: str
    row: str  # the row's key fields (trunk id, fqdn, ...) or its position
    value: float


@dataclass(frozen=True, slots=True)
class Unmapped:
    """Fields of an answer that no mapping consumed: the names (numeric or not) and the numeric values."""

    names: frozenset[tuple[str, str]] = frozenset()  # (section, field)
    values: tuple[UnmappedField, ...] = ()
    # Known numeric fields whose value was present but not a number (``true``, ``12 kB``): (field, count).
    unreadable: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SystemStat:
    values: dict[str, float]  # known numeric system_stat fields present in the answer
    ha_current_state: str | None
    ha_pre_state: str | None


@dataclass(frozen=True, slots=True)
class TrunkRealtime:
    trunk_id: str
    fqdn: str
    values: dict[str, float]  # XBResourceRealTimeStatList fields by device name (numOrig, numTerm, ...)


@dataclass(frozen=True, slots=True)
class GatewayRealtime:
    """gw_realtime_stat row; its fields are [assumed] (seen only empty)."""

    orig_trunk_id: str
    term_trunk_id: str
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class Realtime:
    system: SystemStat
    trunks: tuple[TrunkRealtime, ...]
    gateways: tuple[GatewayRealtime, ...]
    unmapped: Unmapped
    duplicates: int = 0  # rows seen twice in one answer (HA failover); the first one is kept


@dataclass(frozen=True, slots=True)
class TrunkWindow:
    trunk_id: str
    direction: str  # ingress | egress
    window: str  # 15m | 1h | 24h
    attempts: float | None
    answers: float | None
    failures: float | None
    duration_seconds: float | None
    post_dial_delay_seconds: float | None


@dataclass(frozen=True, slots=True)
class Resource:
    windows: tuple[TrunkWindow, ...]
    aliases: dict[str, str]  # trunk_id -> alias
    unmapped: Unmapped
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class MediaServer:
    index: str
    alias: str
    switch_type: str
    status: str
    priority: float | None
    max_connections: float | None
    active_sessions: float | None


@dataclass(frozen=True, slots=True)
class MediaServers:
    servers: tuple[MediaServer, ...]
    unmapped: Unmapped
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Registrations:
    """sub_stats reduced to counts; no user name, IP or contact survives parsing."""

    counts: dict[tuple[str, str, str], int]  # (trunk_id, state, protocol) -> rows
    nat: dict[str, int]  # trunk_id -> rows behind NAT
    total: int
    unmapped: Unmapped


@dataclass(frozen=True, slots=True)
class ActiveCalls:
    """active_calls reduced to counts per trunk pair and a duration distribution; no number or call id."""

    pairs: dict[tuple[str, str], tuple[int, int]]  # (orig, term) -> (calls, answered)
    duration_buckets: tuple[tuple[float, int], ...]  # cumulative (upper bound, calls); last bound is +Inf
    duration_sum: float
    total: int
    unmapped: Unmapped


@dataclass(frozen=True, slots=True)
class ResourceDetailRow:
    """[assumed] a per-trunk, per-node live row shaped like XBResourceRealTimeStatList."""

    trunk_id: str
    fqdn: str
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class ResourceDetail:
    rows: tuple[ResourceDetailRow, ...]
    tables: int
    unmapped: Unmapped
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class SipMessage:
    """[assumed] a SIP message counter recognised from a field name like ``in_INVITE`` or ``out_2xx``."""

    direction: str  # inbound | outbound
    message: str  # method (INVITE) or response code / class (200, 4xx)
    value: float


@dataclass(frozen=True, slots=True)
class SipStats:
    messages: tuple[SipMessage, ...]
    tables: int
    unmapped: Unmapped

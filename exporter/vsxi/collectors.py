"""The VSXi collectors: one per stats table, each a parser and a builder; the one table naming them.

Loaded by the parse workers (``parse_and_build``): no I/O here. The poller fetches every table the same way
(``GET .../stats/<name>``), so a collector needs no fetch of its own.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from exporter import devicefamily
from exporter.devicefamily import Collector, ParseResult
from exporter.vsxi import metrics as m
from exporter.vsxi import parse as p

COLLECTORS: dict[str, Collector] = {c.name: c for c in (  # in poll order
    Collector("realtime", p.parse_realtime, m.build_realtime),
    Collector("resource", p.parse_resource, m.build_resource),
    Collector("resource_detail", p.parse_resource_detail, m.build_resource_detail),
    Collector("sip_stats", p.parse_sip_stats, m.build_sip_stats),
    Collector("sub_stats", p.parse_sub_stats, m.build_sub_stats),
    Collector("active_calls", p.parse_active_calls, m.build_active_calls),
    Collector("media_server", p.parse_media_server, m.build_media_server),
)}


class AnswerFacts(NamedTuple):
    """What a VSXi answer tells beside its series (ParseResult.facts), shown by its status series."""

    unmapped_fields: int  # distinct fields no mapping knew (vsxi_collector_unmapped_fields)
    duplicate_rows: int  # rows repeated, the first kept (vsxi_collector_duplicate_rows)


def _facts(rec: Any) -> AnswerFacts:
    return AnswerFacts(len(rec.unmapped.names), getattr(rec, "duplicates", 0))


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    """Runs in a parse worker: the answer reduced to rendered exposition bytes, with its sample count and its
    AnswerFacts."""
    return devicefamily.parse_collector(COLLECTORS, collector, target, answer, _facts)

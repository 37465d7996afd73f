"""Exposition bytes from cached chunks: what ``/probe`` and ``/metrics`` send, without re-encoding anything.

A target's exposition changes only when one of its polls completes. Each poll leaves a chunk of sample bytes
(``Builder.chunk()``), so a scrape is a join: per section, the header once, then every target's bytes for it.
The text format (0.0.4) and OpenMetrics share those bytes; only headers and the grouping of a gauge
histogram's ``_gcount``/``_gsum`` differ, so OpenMetrics costs nothing to keep "encoded" as well.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.exposition import choose_encoder

from exporter.families import OM_HEADERS, PARTS, TEXT_HEADERS, Chunk


def negotiate(accept: str) -> tuple[bool, str]:
    """(OpenMetrics?, content type), by prometheus_client's own rules."""
    _, content_type = choose_encoder(accept)
    return content_type.startswith("application/openmetrics-text"), content_type


def join(chunks: Iterable[Chunk], openmetrics: bool) -> list[bytes]:
    """The exposition of ``chunks`` (targets in order, each chunk sorted by section), as a list of bytes to
    send in order. No ``# EOF``: the exporter's own metrics follow and end an OpenMetrics answer."""
    parts: dict[int, list[bytes]] = {}
    # OpenMetrics keeps a family's sections of one target together (buckets, _gcount, _gsum of a label set);
    # the text format groups each section, as prometheus-client writes them.
    step = PARTS if openmetrics else 1
    for chunk in chunks:
        for section, data in chunk:
            if data:
                key = section - section % step
                group = parts.get(key)
                if group is None:
                    parts[key] = [data]
                else:
                    group.append(data)
    headers = OM_HEADERS if openmetrics else TEXT_HEADERS
    out: list[bytes] = []
    for key in sorted(parts):
        out.append(headers[key])
        out.extend(parts[key])
    return out

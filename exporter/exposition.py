"""Exposition bytes from cached chunks: what ``/probe`` and ``/metrics`` send, without re-encoding anything.

A target's exposition changes only when one of its polls completes. Each poll leaves a chunk of sample bytes
(``Builder.chunk()``), so a scrape is a join: per section, the header once, then every target's bytes for it.
The text format (0.0.4) and OpenMetrics share those bytes; only headers and the grouping of a gauge
histogram's ``_gcount``/``_gsum`` differ, so OpenMetrics costs nothing to keep "encoded" as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as text_encoder
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_encoder

from exporter.catalog import OM_HEADERS, PARTS, TEXT_HEADERS, Chunk, escape_label, go_float


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


def encode_registry(registry, openmetrics: bool) -> bytes:
    """A prometheus-client registry (the exporter's own metrics), as prometheus-client's encoders write it,
    ~10x faster: a fleet has ~9 series per target there, and they change with every request. Anything this
    does not write the same way (exemplars, timestamps, native histograms, names needing quotes) goes to
    prometheus-client's own encoder."""
    families = list(registry.collect())
    out: list[str] = []
    for metric in families:
        for s in metric.samples:
            if s.exemplar is not None or s.timestamp is not None or s.native_histogram is not None:
                encoder = openmetrics_encoder if openmetrics else text_encoder
                return encoder(_Families(families))
        help_ = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        if openmetrics:
            out.append(f"# HELP {metric.name} {help_.replace(chr(34), chr(92) + chr(34))}\n"
                       f"# TYPE {metric.name} {metric.type}\n")
            if metric.unit:
                out.append(f"# UNIT {metric.name} {metric.unit}\n")
            out.extend(_sample_line(s) for s in metric.samples)
            continue
        name, kind = metric.name, metric.type
        name = {"counter": name + "_total", "info": name + "_info"}.get(kind, name)
        kind = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}.get(
            kind, kind)
        out.append(f"# HELP {name} {help_}\n# TYPE {name} {kind}\n")
        extra: dict[str, list[str]] = {}
        for s in metric.samples:
            suffix = next((x for x in ("_created", "_gsum", "_gcount") if s.name == metric.name + x), None)
            if suffix is None:
                out.append(_sample_line(s))
            else:
                extra.setdefault(suffix, []).append(_sample_line(s))
        for suffix, lines in sorted(extra.items()):
            out.append(f"# HELP {metric.name}{suffix} {help_}\n# TYPE {metric.name}{suffix} gauge\n")
            out.extend(lines)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode()


def _sample_line(s) -> str:
    """``name{labels} value``; the part before the value is rendered once per series and kept (the series of
    a registry are the same from one scrape to the next)."""
    key = (s.name, *s.labels.items())
    prefix = _PREFIXES.get(key)
    if prefix is None:
        if len(_PREFIXES) > 200_000:  # series come and go with targets: bound the cache
            _PREFIXES.clear()
        if not _LEGACY_NAME.match(s.name) or not all(map(_LEGACY_LABEL.match, s.labels)):
            raise ValueError(f"{s.name}: a name prometheus-client would quote")  # never in our registries
        labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in sorted(s.labels.items()))
        prefix = _PREFIXES[key] = f"{s.name}{{{labels}}} " if labels else f"{s.name} "
    return f"{prefix}{go_float(float(s.value))}\n"


_PREFIXES: dict[tuple, str] = {}


class _Families:
    def __init__(self, families):
        self._families = families

    def collect(self):
        return iter(self._families)


_LEGACY_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LEGACY_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

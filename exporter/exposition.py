"""Exposition bytes from cached chunks: what ``/probe`` and ``/metrics`` send, without re-encoding anything.

A target's exposition changes only when one of its polls completes. Each poll leaves a chunk of sample bytes
(``Builder.chunk()``, held compressed: exporter.packed), so a scrape is a join: per section, the header once,
then every target's piece for it.
The text format (0.0.4) and OpenMetrics share those bytes; only headers and the grouping of a gauge
histogram's ``_gcount``/``_gsum`` differ, so OpenMetrics costs nothing to keep "encoded" as well.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable

from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as text_encoder
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_encoder

from exporter.catalog import OM_HEADERS, PARTS, TEXT_HEADERS, escape_label, go_float
from exporter.packed import FIELDS, Chunk, Pieces, piece_of


def negotiate(accept: str) -> tuple[bool, str]:
    """(OpenMetrics?, content type), by prometheus_client's own rules, the content type naming the version the
    body is written in: prometheus_client echoes an OpenMetrics 2.0.0 asked for (Prometheus 3.14+ can ask),
    while the body here is OpenMetrics 1.0.0, which a 2.0 parser would misread."""
    _, content_type = choose_encoder(accept)
    openmetrics = content_type.startswith("application/openmetrics-text")
    if openmetrics:
        content_type = re.sub(r"version=[^;]*", "version=1.0.0", content_type)
    return openmetrics, content_type


def join(chunks: Iterable[Chunk], openmetrics: bool) -> Pieces:
    """The exposition of ``chunks`` (targets in order, each chunk sorted by section), as pieces to send in
    order (exporter.packed: joined as gzip, or inflated). No ``# EOF``: the exporter's own metrics follow and
    end an OpenMetrics answer."""
    out = Pieces()
    groups: dict[int, array] = {}  # section key -> its pieces' words, in target order
    # OpenMetrics keeps a family's sections of one target together (buckets, _gcount, _gsum of a label set);
    # the text format groups each section, as prometheus-client writes them.
    step = PARTS if openmetrics else 1
    for chunk in chunks:
        if not chunk:
            continue
        source = out.source(chunk.data)
        index = chunk.index
        start = 0
        for i in range(0, len(index), FIELDS):
            section, end = index[i], index[i + 1]
            key = section - section % step
            group = groups.get(key)
            if group is None:
                group = groups[key] = array("I")
            group.extend((source, start, end, index[i + 2], index[i + 3]))
            start = end
    for key in sorted(groups):
        out.add(*header_piece(key, openmetrics))
        out.index.extend(groups.pop(key))
    return out


_HEADER_PIECES: dict[tuple[bool, int], tuple[bytes, int, int]] = {}


def header_piece(key: int, openmetrics: bool) -> tuple[bytes, int, int]:
    """A section's ``# HELP``/``# TYPE`` lines as a piece, made once."""
    piece = _HEADER_PIECES.get((openmetrics, key))
    if piece is None:
        piece = _HEADER_PIECES[(openmetrics, key)] = piece_of((OM_HEADERS if openmetrics else TEXT_HEADERS)[key])
    return piece


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

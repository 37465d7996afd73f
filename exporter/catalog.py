"""Metric declarations, the builder that turns records into samples, and the exposition chunks it renders.

Every metric the exporter emits is declared once in a ``Catalog`` (name, type, labels, HELP); the metrics
reference (docs/metrics.md) is generated from the catalogs and a test checks it against real expositions.

A poll's samples are rendered to exposition bytes once, when the poll completes (``Builder.chunk()``, in the
parse worker), and served from those bytes until the next poll: a scrape only joins cached chunks
(``exporter.exposition``). The renderer writes what prometheus_client's encoders write, byte for byte
(tests/test_exposition.py checks it on every golden exposition), at a fraction of the cost: each spec carries
a precompiled sample template, so a sample costs one ``%`` format instead of a ``Sample`` object, a label
dict and a sort. ``Builder.families()`` still gives prometheus_client ``Metric`` objects, the reference those
tests compare against.

A chunk holds one piece per section, sorted by section, compressed (exporter.packed). A section is one
``# HELP``/``# TYPE`` group of the text format: one per metric, three for a gauge histogram (buckets, then
``_gcount`` and ``_gsum`` as gauges, as prometheus_client writes them). OpenMetrics groups the three back under
one family.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from exporter.packed import Chunk, pack

PARTS = 3  # sections per spec: main, _gcount, _gsum
GCOUNT, GSUM = 1, 2
CATALOG_SIZE = 10_000
_ORDER = itertools.count(1_000 * CATALOG_SIZE)  # specs made outside a catalog (tests)

# Headers by section (text format 0.0.4) and by family (OpenMetrics), filled as specs are declared.
TEXT_HEADERS: dict[int, bytes] = {}
OM_HEADERS: dict[int, bytes] = {}


def go_float(value: float) -> str:
    """prometheus_client's floatToGoString, with a fast path for the short values most samples have."""
    s = repr(value)
    if len(s) < 9 and s[-1] not in "fn":  # no inf/nan, and under 7 integer digits (Go's exponent switch)
        return s
    return floatToGoString(value)


def escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _renderer(name: str, labels: Sequence[str]):
    """A function rendering ``{labels: value}`` of one metric to text lines, compiled once per metric: an
    f-string with the label values in name order (as prometheus_client sorts them), ~3x faster than a
    ``%`` template. Names and label names are the catalog's own identifiers, checked here."""
    for ident in (name, *labels):
        assert _IDENT.match(ident), ident
    order = sorted(range(len(labels)), key=lambda i: labels[i])
    body = ",".join(f'{labels[i]}="{{l[{i}]}}"' for i in order)
    head = f"{name}{{{{{body}}}}}" if labels else name
    source = (f"def render(samples, simple):\n"
              f"    if simple:\n"
              f"        return ''.join([f'{head} {{v!r}}\\n' for l, v in samples.items()])\n"
              f"    return ''.join([f'{head} {{go(v)}}\\n' for l, v in samples.items()])\n")
    namespace = {"go": go_float}
    exec(source, namespace)  # noqa: S102 - compiled from validated identifiers only
    return namespace["render"]


_IDENT = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Spec:
    name: str
    type: str  # gauge | counter | gaugehistogram
    labels: tuple[str, ...]
    help: str
    collector: str  # the table or concern it comes from, for the reference
    # Its place in the exposition. It names the metric's sections in chunks that cross process boundaries,
    # so it is fixed by the catalog's declaration order, never by the order modules happen to be imported.
    index: int = field(default=-1, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.index < 0:
            object.__setattr__(self, "index", next(_ORDER))  # a spec of no catalog (tests)
        section = self.index * PARTS
        text_help = self.help.replace("\\", r"\\").replace("\n", r"\n")
        om_help = text_help.replace('"', r"\"")
        text_type = "histogram" if self.type == "gaugehistogram" else self.type
        TEXT_HEADERS[section] = f"# HELP {self.name} {text_help}\n# TYPE {self.name} {text_type}\n".encode()
        OM_HEADERS[section] = f"# HELP {self.family} {om_help}\n# TYPE {self.family} {self.type}\n".encode()
        if self.type == "gaugehistogram":
            for part, suffix in ((GCOUNT, "_gcount"), (GSUM, "_gsum")):
                TEXT_HEADERS[section + part] = (f"# HELP {self.name}{suffix} {text_help}\n"
                                                f"# TYPE {self.name}{suffix} gauge\n").encode()
            object.__setattr__(self, "_bucket", _renderer(self.name + "_bucket", (*self.labels, "le")))
            object.__setattr__(self, "_gcount", _renderer(self.name + "_gcount", self.labels))
            object.__setattr__(self, "_gsum", _renderer(self.name + "_gsum", self.labels))
        else:
            object.__setattr__(self, "_line", _renderer(self.name, self.labels))

    @property
    def family(self) -> str:
        """prometheus_client's family name: a counter's without ``_total`` (it adds it to the sample)."""
        return self.name[: -len("_total")] if self.type == "counter" else self.name

    @property
    def section(self) -> int:
        return self.index * PARTS


class Catalog:
    """The metrics of one family, in exposition order. ``order`` places the catalog among the others (the
    registered families 1, 2, ...); catalogs without one (tests) come after them."""

    _unnumbered = itertools.count(100)
    _taken: set[int] = set()

    def __init__(self, order: int | None = None) -> None:
        if order in self._taken:  # its metrics would take the places (and headers) of another family's
            raise ValueError(f"catalog order {order} is taken by another family's catalog")
        if order is not None:
            self._taken.add(order)
        self.specs: dict[str, Spec] = {}
        self.base = (order if order is not None else next(self._unnumbered)) * CATALOG_SIZE

    def _add(self, name: str, type_: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        if name in self.specs:
            raise ValueError(f"metric {name} declared twice")
        if len(self.specs) >= CATALOG_SIZE:
            raise ValueError(f"metric {name}: a catalog holds at most {CATALOG_SIZE} metrics")
        spec = Spec(name, type_, tuple(labels), help_, collector, index=self.base + len(self.specs))
        self.specs[name] = spec
        return spec

    def gauge(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        return self._add(name, "gauge", labels, help_, collector)

    def counter(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        return self._add(name, "counter", labels, help_, collector)

    def gauge_histogram(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        return self._add(name, "gaugehistogram", labels, help_, collector)


def _lines(render, samples: dict[tuple[str, ...], float]) -> str:
    """Every sample of one metric, rendered. Both checks run once per metric, in C: escaping (label values
    almost never hold a quote, backslash or newline), and whether ``repr`` already writes every value as Go
    does (finite, under 1e6: Go switches to an exponent from 1e21, prometheus_client from 1e6 up)."""
    values = samples.values()
    try:
        simple = math.isfinite(math.fsum(values)) and max(values) < 1e6
    except OverflowError:
        simple = False
    text = "".join(itertools.chain.from_iterable(samples))
    if "\\" in text or '"' in text or "\n" in text:
        samples = {tuple(escape_label(x) for x in labels): v for labels, v in samples.items()}
    return render(samples, simple)


class Builder:
    """Accumulates samples per declared metric, in the order metrics are first added."""

    def __init__(self) -> None:
        self._samples: dict[int, dict[tuple[str, ...], float]] = {}  # spec index -> labels -> value
        self._histograms: dict[int, list[tuple[tuple[str, ...], list[tuple[float, int]], float]]] = {}
        self._specs: dict[int, Spec] = {}

    def add(self, spec: Spec, labels: tuple[str, ...], value: float | None) -> None:
        """Add one sample (labels in the spec's order, a tuple); None (field absent from the answer) adds
        nothing rather than a false zero. A label set already present is ignored, so a duplicated row never
        breaks the exposition. The hot path of every poll: keep it to two dict lookups."""
        if value is None:
            return
        samples = self._samples.get(spec.index)
        if samples is None:
            assert len(labels) == len(spec.labels), (spec.name, labels)
            samples = self._samples[spec.index] = {}
            self._specs[spec.index] = spec
        if labels not in samples:
            samples[labels] = float(value)

    def add_gauge_histogram(self, spec: Spec, labels: Sequence[str], buckets: Iterable[tuple[float, int]],
                            total_sum: float) -> None:
        self._specs.setdefault(spec.index, spec)
        self._histograms.setdefault(spec.index, []).append((tuple(labels), list(buckets), float(total_sum)))

    @property
    def samples(self) -> int:
        return (sum(map(len, self._samples.values()))
                + sum(len(b) + 2 for hist in self._histograms.values() for _, b, _ in hist))

    @property
    def _order(self) -> list[Spec]:
        return list(self._specs.values())

    # --- fast path: exposition bytes ----------------------------------------------------------------------

    def chunk(self) -> Chunk:
        """The samples rendered once, by section, and held compressed (exporter.packed)."""
        return pack(self.sections())

    def sections(self) -> list[tuple[int, bytes]]:
        """The samples rendered, by section (see the module docstring)."""
        out: list[tuple[int, bytes]] = []
        for index in sorted(self._specs):
            spec = self._specs[index]
            section = spec.section
            if spec.type == "gaugehistogram":
                parts: list[dict[tuple[str, ...], float]] = [{}, {}, {}]
                for labels, buckets, total in self._histograms[index]:
                    count = 0
                    for bound, n in buckets:
                        parts[0][(*labels, "+Inf" if bound == math.inf else f"{bound:g}")] = float(n)
                        count = n
                    parts[GCOUNT][labels] = float(count)
                    parts[GSUM][labels] = total
                templates = (spec._bucket, spec._gcount, spec._gsum)
                out.extend((section + part, _lines(templates[part], parts[part]).encode()) for part in range(3))
            else:
                out.append((section, _lines(spec._line, self._samples[index]).encode()))
        return out

    # --- reference path: prometheus_client families (tests compare the two) -----------------------------

    def families(self) -> list[Metric]:
        fams = []
        for spec in self._order:
            fam = Metric(spec.family, spec.help, spec.type)
            if spec.type == "gaugehistogram":
                for labels, buckets, total in self._histograms[spec.index]:
                    base = dict(zip(spec.labels, labels, strict=True))
                    count = 0
                    for bound, n in buckets:
                        le = "+Inf" if bound == math.inf else f"{bound:g}"
                        fam.samples.append(Sample(spec.name + "_bucket", {**base, "le": le}, float(n)))
                        count = n
                    fam.samples.append(Sample(spec.name + "_gcount", base, float(count)))
                    fam.samples.append(Sample(spec.name + "_gsum", base, float(total)))
            else:
                for labels, value in self._samples[spec.index].items():
                    fam.samples.append(Sample(spec.name, dict(zip(spec.labels, labels, strict=True)),
                                              float(value)))
            fams.append(fam)
        return fams


def merge(family_lists: Iterable[Iterable[Metric]]) -> list[Metric]:
    """Join families of the same name from several targets into one (one HELP/TYPE per name)."""
    merged: dict[str, Metric] = {}
    for families in family_lists:
        for fam in families:
            out = merged.get(fam.name)
            if out is None:
                out = merged[fam.name] = Metric(fam.name, fam.documentation, fam.type)
            out.samples.extend(fam.samples)
    return list(merged.values())

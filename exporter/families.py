"""Metric declarations and the small builder that turns records into prometheus_client metric families.

Every metric the exporter emits is declared once in a ``Catalog`` (name, type, labels, HELP); the metrics
reference (docs/metrics.md) is generated from the catalogs and a test checks it against real expositions.
Families are plain ``prometheus_client.core.Metric`` objects, built in the poller from immutable records and
merged across targets at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Spec:
    name: str
    type: str  # gauge | counter | gaugehistogram | info
    labels: tuple[str, ...]
    help: str
    collector: str  # the table or concern it comes from, for the reference


class Catalog:
    def __init__(self) -> None:
        self.specs: dict[str, Spec] = {}

    def _add(self, name: str, type_: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        assert name not in self.specs, name
        spec = Spec(name, type_, tuple(labels), help_, collector)
        self.specs[name] = spec
        return spec

    def gauge(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        return self._add(name, "gauge", labels, help_, collector)

    def counter(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        assert name.endswith("_total"), name
        return self._add(name, "counter", labels, help_, collector)

    def gauge_histogram(self, name: str, labels: Sequence[str], help_: str, collector: str) -> Spec:
        return self._add(name, "gaugehistogram", labels, help_, collector)


def _family_name(spec: Spec) -> str:
    # prometheus_client keeps counter family names without _total and adds it to the sample.
    return spec.name[: -len("_total")] if spec.type == "counter" else spec.name


class Builder:
    """Accumulates samples per declared metric; ``families()`` returns them in declaration order."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}
        self._seen: set[tuple] = set()

    def _family(self, spec: Spec) -> Metric:
        fam = self._families.get(spec.name)
        if fam is None:
            fam = self._families[spec.name] = Metric(_family_name(spec), spec.help, spec.type)
        return fam

    def add(self, spec: Spec, labels: Sequence[str], value: float | None) -> None:
        """Add one sample; None (field absent from the answer) adds nothing rather than a false zero.
        A label set already present is ignored, so a duplicated row never breaks the exposition."""
        if value is None:
            return
        assert len(labels) == len(spec.labels), (spec.name, labels)
        key = (spec.name, *labels)
        if key in self._seen:
            return
        self._seen.add(key)
        fam = self._family(spec)
        name = spec.name if spec.type != "counter" else _family_name(spec) + "_total"
        fam.samples.append(Sample(name, dict(zip(spec.labels, labels, strict=True)), float(value)))

    def add_gauge_histogram(self, spec: Spec, labels: Sequence[str], buckets: Iterable[tuple[float, int]],
                            total_sum: float) -> None:
        fam = self._family(spec)
        base = dict(zip(spec.labels, labels, strict=True))
        count = 0
        for bound, n in buckets:
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            fam.samples.append(Sample(spec.name + "_bucket", {**base, "le": le}, float(n)))
            count = n
        fam.samples.append(Sample(spec.name + "_gcount", base, float(count)))
        fam.samples.append(Sample(spec.name + "_gsum", base, float(total_sum)))

    def families(self) -> list[Metric]:
        return list(self._families.values())


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

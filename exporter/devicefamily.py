"""What the shared code needs of a device family, as one record (``Family``), and the demo's devices.

A family is a package, ``exporter/<family>/``, whose ``family.py`` builds its ``Family``; ``exporter.registry``
lists the families. The engine, the web server, the CLI, the configuration loader, the metrics reference and the
dashboard generator loop over the registry and never name a family (tests/test_registry.py adds a third one from
the test suite and gets every one of those from the shared code).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from exporter.catalog import Builder
from exporter.keys import Keys
from exporter.packed import Chunk
from exporter.reasons import check_family_reasons

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from exporter.catalog import Catalog
    from exporter.configfile import Checker
    from exporter.polling.poller import BasePoller
    from exporter.polling.status import StatusSpecs
    from exporter.target import Target

Answer = Any  # what a collector's fetch hands its parser: the body (bytes), or a family's typed answer
Record = TypeVar("Record")  # what a collector's parser makes of an answer, and its builder takes


@dataclass(frozen=True)
class Collector(Generic[Record]):
    """One collector of a family: its name (the `collector` label), how an answer becomes a record (pure,
    bytes or a typed answer in) and how the record becomes series. Runs in a parse worker: keep the modules
    these come from free of I/O (no aiohttp)."""

    name: str
    parse: Callable[[Answer], Record]
    build: Callable[[Builder, str, Record], None]  # (builder, target name, record)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parse worker hands back for one answer (pickled across the worker pipe)."""

    chunk: Chunk  # the series, rendered
    samples: int  # how many samples the chunk holds (max_series)
    # What the family's parser tells of the answer beside its series, in a picklable record of its own (e.g.
    # unmapped fields, duplicate rows), kept in the collector's state for its status series; None: nothing.
    facts: object = None

    def __reduce__(self):  # back from a parse worker: the constructor, not dataclasses' field-by-field setstate
        return ParseResult, (self.chunk, self.samples, self.facts)


def parse_collector(collectors: Mapping[str, Collector], collector: str, target: str, answer: Answer,
                    facts: Callable[[Any], object] | None = None) -> ParseResult:
    """One answer of a family's collector parsed, built and rendered (what each family's ``parse_and_build``,
    the one function its poller hands the parse workers, does with its own table). ``facts`` gives what a
    record tells beside its series (ParseResult.facts), for families that keep something."""
    c = collectors[collector]
    rec = c.parse(answer)
    b = Builder()
    c.build(b, target, rec)
    return ParseResult(b.chunk(), b.samples, facts(rec) if facts is not None else None)


class RoundAnswer(NamedTuple):
    """One answer of a target's round, read whole, on its way to a parse worker with the round's others."""

    collector: str
    answer: Answer


class ParseOutcome(NamedTuple):
    """What became of one ``RoundAnswer``: a result or the error that stopped its parser, and the seconds its
    parse and build took (part of the collector's poll duration)."""

    result: ParseResult | None
    error: Exception | None
    seconds: float


def parse_round(parse: Callable[[str, str, Answer], ParseResult], target: str,
                answers: list[RoundAnswer]) -> list[ParseOutcome]:
    """The worker's job for a round's whole answers: ``parse`` (a family's parse_and_build) of each, in order,
    each failing alone. One job per round instead of one per table: one hand-off and one wake-up of a worker
    instead of seven, and the worker's caches stay warm from one table to the next."""
    out = []
    for collector, answer in answers:
        t0 = time.perf_counter()
        try:
            out.append(ParseOutcome(parse(collector, target, answer), None, time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - every error goes back to the poller, which classifies it
            out.append(ParseOutcome(None, _portable(exc), time.perf_counter() - t0))
    return out


def _portable(exc: Exception) -> Exception:
    """``exc``, or a stand-in naming it when it cannot cross back to the main process (pickle)."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__} in a parse worker")
    return exc


class FamilyMetrics(Protocol):
    """The exporter's own metrics only one device family has (e.g. session tokens obtained from an auth
    service), made by its ``Family.self_metrics`` in the self-metrics registry (exporter.selfmetrics)."""

    def all(self) -> tuple[MetricWrapperBase, ...]: ...


@dataclass(frozen=True)
class Monitoring:
    """A family's share of the monitoring bundle (its package's ``monitoring/``, built with ``mixin/kit.py``):
    ``python -m mixin`` writes it out with what all families share. Rules and dashboards are plain dicts of
    Prometheus' rule files and Grafana's JSON model."""

    recording_rules: Callable[[], list[dict]]
    alerts: Callable[[], list[dict]]
    dashboards: Callable[[], list[dict]]
    runbook: Path  # Markdown: one "## <alert name, lower case>" section per alert of ``alerts``
    # Panels of its own on the exporter-health dashboard, after the common collector panels (its extras: facts
    # its collectors report, self-metrics only it has), given the dashboard's layout (mixin.kit.Layout).
    health_panels: Callable[[Any], None] = lambda layout: None
    # Recording rules of figures that move by the day (daily peaks for forecasts): a group of their own, at a
    # longer interval (mixin.config.CAPACITY_INTERVAL).
    capacity_rules: Callable[[], list[dict]] = lambda: []
    # Exported metrics no panel or rule shows, and why (tests/test_mixin.py: every other one is shown).
    not_shown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoDevice:
    """A simulated device of ``--demo``: the target that polls it and how to inject a fault into it."""

    target: Target
    faults_url: str  # the simulator's fault control (PATCH a JSON object)
    fault_example: str  # a JSON object that takes the device down, for the demo's banner


@dataclass(frozen=True)
class Demo:
    devices: tuple[DemoDevice, ...]
    runners: tuple[web.AppRunner, ...]


@dataclass(frozen=True)
class Family:
    name: str  # the `family` label value, the configuration's top-level key and the metric name prefix
    title: str  # as an operator names the product (landing page, docs, CLI help)
    device_noun: str  # what one device is: "SBC"
    # (checker, the entry as read from YAML, its path, the defaults, the file's directory) -> target, None if bad
    check_target: Callable[[Checker, Any, str, dict, str], Target | None]
    collectors: tuple[str, ...]  # every collector the family has, in poll order (its collectors table's keys)
    poller: type[BasePoller]
    catalog: Catalog  # every metric the family exports, for docs/metrics.md and the dashboards' checks
    status: StatusSpecs  # its status series
    # Its target entries' own keys, after every target's (exporter.target.TARGET_KEYS): what its check_target
    # accepts, and docs/configuration.md.
    target_keys: Keys = ()
    demo: Callable[[float], Awaitable[Demo]] | None = None  # simulated devices for --demo (interval)
    collector_heading: str = "collector "  # docs/metrics.md: a collector's section is "<title>: <this><name>"
    reference_notes: str = ""  # docs/metrics.md: how the family's values are read (Markdown, may be empty)
    # The `reason` values only this family has, with their texts, and notes on what common ones (reasons.COMMON)
    # mean for its devices: docs/metrics.md; a reason its code raises must be one of these or a common one.
    reasons: Mapping[str, str] = field(default_factory=dict)
    # The exporter's own metrics only this family has, made once per process in the self-metrics registry
    # (FamilyMetrics; its poller finds them in metrics.of_family[name]); None: none.
    self_metrics: Callable[[CollectorRegistry], FamilyMetrics] | None = None
    # Its dashboards, rules, alerts and runbook sections (its package's monitoring/), for ``python -m mixin``,
    # which adds the common ones; loaded only when called (the running exporter never does). None: the family
    # gets the common collector, staleness and site alerts and health panels only.
    monitoring: Callable[[], Monitoring] | None = None

    def __post_init__(self) -> None:
        check_family_reasons(self.name, self.reasons)
        self._check_identity()

    def _check_identity(self) -> None:
        """What the family's modules say of it agrees with this record: ValueError otherwise, when the family is
        built (at import), naming the family and what disagrees."""
        problems = []
        if getattr(self.poller, "family", None) != self.name:
            problems.append(f"its poller says family {getattr(self.poller, 'family', None)!r}")
        if getattr(self.poller, "status_specs", None) is not self.status:
            problems.append("its poller's status_specs are not the family's status")
        if not self.collectors or len(set(self.collectors)) != len(self.collectors):
            problems.append(f"collectors {self.collectors} (none, or one named twice)")
        status = (self.status.up, *(c.spec for c in self.status.collector), self.status.standby, self.status.info)
        for spec in (s for s in status if s is not None):
            if self.catalog.specs.get(spec.name) is not spec:
                problems.append(f"status series {spec.name} is not in its catalog")
        for name in self.catalog.specs:
            if not name.startswith(f"{self.name}_"):
                problems.append(f"metric {name} does not start with {self.name}_")
        if problems:
            raise ValueError(f"device family {self.name!r}: " + "; ".join(problems))

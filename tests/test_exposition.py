"""The purpose-built renderer writes exactly what prometheus_client writes, on every golden input.

``Builder.chunk()`` + ``exposition.join()`` (the serving path, inflated and as gzip) against ``generate_latest`` of
``Builder.families()`` (the reference), byte for byte, text 0.0.4 and OpenMetrics, for one target and for
several joined; plus the values and label values where the two encoders could diverge.
"""

import gzip
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FamiliesCollector, fixture
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from test_xivo_parsers import CASES as XIVO_CASES
from test_xivo_parsers import collector_of

from exporter.catalog import Builder, Catalog, go_float, merge
from exporter.exposition import join, negotiate
from exporter.packed import piece_of
from exporter.simulator.vsxi_model import TABLES
from exporter.vsxi.collectors import COLLECTORS
from exporter.xivo.collectors import COLLECTORS as XIVO_COLLECTORS

FIXTURES = Path(__file__).parent / "fixtures" / "vsxi"
VSXI_INPUTS = sorted(
    [(t, f"{t}.{layout}.{fmt}") for t in TABLES for layout in ("old", "new") for fmt in ("xml", "json")]
    + [("realtime", "quirks/realtime_nil.xml"), ("realtime", "quirks/realtime_single_row.json"),
       ("media_server", "quirks/media_server_single.json"), ("active_calls", "quirks/active_calls_single.json"),
       ("resource", "quirks/resource_one_direction.xml"), ("sub_stats", "quirks/sub_stats_empty.xml")]
)


def reference(builders: list[Builder], openmetrics: bool) -> bytes:
    """prometheus_client's encoding of the same samples, families merged across targets in catalog order."""
    families = merge(b.families() for b in builders)
    order = {spec.family: spec.index for b in builders for spec in b._order}  # noqa: SLF001
    families.sort(key=lambda f: order[f.name])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FamiliesCollector(families))
    return (generate_openmetrics if openmetrics else generate_latest)(registry)


def served(chunks: list, openmetrics: bool) -> bytes:
    """What a scrape sends for ``chunks``, inflated; the gzip answer (pieces joined, never compressed) must
    hold the same text, its CRC-32 and size checked by gzip.decompress."""
    pieces = join(chunks, openmetrics)
    if openmetrics:
        pieces.add(*piece_of(b"# EOF\n"))
    text = pieces.text()
    assert gzip.decompress(pieces.gzip()) == text
    return text


def rendered(builders: list[Builder], openmetrics: bool) -> bytes:
    return served([b.chunk() for b in builders], openmetrics)


def vsxi_builder(table: str, path: str, target: str = "sbc-golden") -> Builder:
    b = Builder()
    COLLECTORS[table].build(b, target, COLLECTORS[table].parse(fixture(path)))
    return b


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
@pytest.mark.parametrize("table,path", VSXI_INPUTS)
def test_vsxi_bytes_equal_prometheus_client(table, path, openmetrics):
    b = vsxi_builder(table, path)
    assert b.samples > 0 or "empty" in path
    assert rendered([b], openmetrics) == reference([b], openmetrics)


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
@pytest.mark.parametrize("case", sorted(XIVO_CASES))
def test_xivo_bytes_equal_prometheus_client(case, openmetrics):
    b = Builder()
    XIVO_COLLECTORS[collector_of(case)].build(b, "pbx-golden", XIVO_CASES[case]())
    assert rendered([b], openmetrics) == reference([b], openmetrics)


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_targets_joined_equal_prometheus_client_merge(openmetrics, check_metrics):
    builders = [vsxi_builder(t, f"{t}.old.xml", target) for target in ("sbc-a", "sbc-b") for t in TABLES]
    text = rendered(builders, openmetrics)
    assert text == reference(builders, openmetrics)
    assert text.count(b"# TYPE vsxi_system_active_sessions gauge") == 1
    if not openmetrics:
        check_metrics(text)


@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, 0.5, 12.25, 999999.0, 1e6, 1234567.0, 19750.0, 1.5e15, 1e16,
                                   1e-7, -1234567.0, float("inf"), float("-inf"), float("nan"), 123456.75,
                                   5_000_000.0, 2.0**53])
def test_values_formatted_like_prometheus_client(value):
    from prometheus_client.utils import floatToGoString

    assert go_float(value) == floatToGoString(value)


def test_label_values_escaped_and_help_escaped_like_prometheus_client():
    cat = Catalog()
    spec = cat.gauge("test_escape_value", ("target", "alias", "b"), 'HELP with \\ and "quotes"\nand a newline',
                     "test")
    counter = cat.counter("test_escape_things_total", ("target",), "A counter.", "test")
    b = Builder()
    b.add(spec, ("t", 'a "quoted" alias', "back\\slash\nnewline"), 1)
    b.add(spec, ("t", "plain", "ünïcödé ☎"), 2)
    b.add(spec, ("t", "plain", "ünïcödé ☎"), 3)  # a duplicated label set is ignored, in both paths
    b.add(counter, ("t",), 7)
    for openmetrics in (False, True):
        assert rendered([b], openmetrics) == reference([b], openmetrics)


def test_negotiation_follows_prometheus_client():
    assert negotiate("")[0] is False
    assert negotiate("text/plain;version=0.0.4")[0] is False
    om, content_type = negotiate("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert om and content_type.startswith("application/openmetrics-text")


@pytest.mark.parametrize("family", ["vsxi", "xivo"])
def test_status_renderer_equals_builder(family):
    """The poller's status renderer (label prefixes rendered once) writes what Builder writes."""
    from exporter.polling.state import CollectorState
    from exporter.polling.status import StatusRenderer
    from exporter.vsxi import metrics as vm
    from exporter.xivo import metrics as xm

    m = vm if family == "vsxi" else xm
    from exporter.registry import FAMILIES
    from exporter.vsxi.config import VsxiTarget
    from exporter.xivo.config import XivoTarget

    collectors = ("realtime", "sub_stats")  # the renderer takes any names: these are the VSXi's
    labels = (("site", 'atl "east"'), ("region", "emea"))  # the operator's: on the target info series only
    target = (VsxiTarget(name="sbc-1", url="http://h", username="u", password="p", format="json",
                         collectors=collectors, ha_group="atl-pair", profile="std", labels=labels)
              if family == "vsxi" else
              XivoTarget(name="sbc-1", url="http://h", username="u", password="p", collectors=collectors))
    from exporter.vsxi.collectors import AnswerFacts

    renderer = StatusRenderer(FAMILIES[family].status, target)
    ok = CollectorState("realtime", True, last_success=1_800_000_123.25, duration=0.0123, response_bytes=17283,
                        facts=AnswerFacts(unmapped_fields=2, duplicate_rows=0))
    failed = CollectorState("sub_stats", False, reason="timeout")
    b = Builder()
    b.add(m.UP, ("sbc-1",), 1.0)
    if family == "vsxi":
        b.add(vm.TARGET_INFO, ("sbc-1", "atl-pair"), 1.0)
        b.add(vm.STANDBY, ("sbc-1",), 0.0)
    for c, fallback in ((ok, True), (failed, False)):
        labels = ("sbc-1", c.collector)
        b.add(m.COLLECTOR_SUCCESS, labels, 1.0 if c.success else 0.0)
        b.add(m.COLLECTOR_LAST_SUCCESS, labels, c.last_success)
        b.add(m.COLLECTOR_DURATION, labels, c.duration)
        b.add(m.COLLECTOR_BYTES, labels, c.response_bytes)
        if family == "vsxi":
            b.add(vm.COLLECTOR_UNMAPPED, labels, c.facts and c.facts.unmapped_fields)
            b.add(vm.COLLECTOR_DUPLICATES, labels, c.facts and c.facts.duplicate_rows)
            b.add(vm.COLLECTOR_FALLBACK, labels, 1.0 if fallback else 0.0)
    from exporter.polling.status import TARGET_INFO
    info = {"vsxi": (target.name, "vsxi", "std", 'atl "east"', "emea"), "xivo": (target.name, "xivo", "")}[family]
    names = ("target", "family", "profile", "site", "region")[:len(info)]
    b.add(replace(TARGET_INFO, labels=names), info, 1.0)  # the operator's labels are this target's own
    chunks = [renderer.target(True, False), renderer.collectors((ok, failed), lambda c: c == "realtime")]
    for openmetrics in (False, True):
        assert served(chunks, openmetrics) == reference([b], openmetrics)


def test_sections_do_not_depend_on_import_order():
    """Chunks rendered in a worker process name their sections by number: a fresh interpreter that imports
    the catalogs in the other order must number them the same."""
    import subprocess
    import sys

    from exporter.vsxi import metrics as vm
    from exporter.xivo import metrics as xm

    here = {spec.name: spec.index for spec in (*vm.CATALOG.specs.values(), *xm.CATALOG.specs.values())}
    code = ("import json; from exporter.xivo import metrics as xm; from exporter.polling import status; "
            "from exporter.vsxi import metrics as vm; "
            "print(json.dumps({s.name: s.index for s in (*vm.CATALOG.specs.values(), *xm.CATALOG.specs.values())}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import json

    assert json.loads(out) == here
    assert max(s.index for s in vm.CATALOG.specs.values()) < min(s.index for s in xm.CATALOG.specs.values())


async def test_own_metrics_encoded_like_prometheus_client(aiohttp_server):
    """The exporter's own registry, after polls that succeeded and failed, in both formats."""
    from helpers import make_engine, make_target
    from prometheus_client.exposition import generate_latest as text
    from prometheus_client.openmetrics.exposition import generate_latest as om

    from exporter.exposition import encode_registry

    _, good = await make_target(aiohttp_server, name="sbc-good")
    _, bad = await make_target(aiohttp_server, name='sbc-"bad"\\', faults={"tables": {"realtime": "html"}})
    engine = make_engine(good, bad)
    try:
        await engine.poll_once()
        engine.metrics.scrapes.labels("metrics", "200").inc()
        registry = engine.metrics.registry
        for openmetrics, reference in ((False, text), (True, om)):
            ours = encode_registry(registry, openmetrics)
            # Process and GC figures move between two reads: compare everything else byte for byte.
            def stable(body: bytes) -> list[bytes]:
                return [line for line in body.splitlines() if not line.startswith((b"process_", b"python_gc"))]

            assert stable(ours) == stable(reference(registry))
            assert b'target="sbc-\\"bad\\"\\\\"' in ours
    finally:
        await engine.stop()


def test_a_collector_status_series_must_have_target_and_collector_labels():
    """StatusRenderer.collectors writes one label block (collector, target) per collector for every series: a
    family declaring a collector series with other labels is refused when it is declared, not mis-rendered."""
    from exporter.catalog import Catalog
    from exporter.polling.status import CollectorSeries

    spec = Catalog().gauge("toy_collector_odd", ("collector", "target"), "Odd label order.", "status")
    with pytest.raises(ValueError, match=r"toy_collector_odd: a collector status series has the labels"):
        CollectorSeries(spec, lambda c, fallback: 1.0)

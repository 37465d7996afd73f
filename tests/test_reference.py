"""docs/metrics.md is generated from the catalogs, and matches what the exporter really emits."""

from pathlib import Path

from helpers import PASSWORD, make_engine, make_target, make_xivo
from prometheus_client.parser import text_string_to_metric_families

from exporter import reference
from exporter.polling.status import CATALOG as STATUS_CATALOG
from exporter.registry import FAMILIES
from exporter.selfmetrics import SelfMetrics
from exporter.simulator.vsxi_app import VsxiSimulator, demo_tls, start_simulator
from exporter.simulator.vsxi_model import VsxiModel
from exporter.target import TLSConfig
from exporter.vsxi.config import VsxiTarget
from exporter.vsxi.metrics import CATALOG as C
from exporter.web.app import create_app
from exporter.xivo.config import COLLECTORS as XIVO_COLLECTORS
from exporter.xivo.metrics import CATALOG as XC

DOC = Path(__file__).parent.parent / "docs" / "metrics.md"


def test_reference_file_is_up_to_date():
    assert DOC.read_text() == reference.render(), "run: python -m exporter.reference > docs/metrics.md"


async def test_reference_matches_a_real_exposition(aiohttp_server, aiohttp_client, check_metrics):
    sim, xml_target = await make_target(aiohttp_server, name="sbc-xml", ha_group="atl-pair",
                                        faults={"extra_fields": True, "field_variants": True})
    sim.model = VsxiModel(sim.model.scale, busy_gateways=True, extra_fields=True)
    _, json_target = await make_target(aiohttp_server, name="sbc-json", format="json", layout="new")
    _, faulty = await make_target(aiohttp_server, name="sbc-faulty", format="json",
                                  faults={"jaxb_above": 3000, "tables": {"realtime": "html"}})
    runners = []
    try:
        _, xivo16, started = await make_xivo("xivo16")
        runners += started
        wazo_sim, wazo, started = await make_xivo("wazo", collectors=XIVO_COLLECTORS, queue_members=True)
        wazo_sim.model.odd_values = True  # one QueueStatus value no number: xivo_collector_unreadable_values
        runners += started
        _, locked_out, started = await make_xivo("xivo16", name="pbx-locked", password="wrong")
        runners += started
        # One SBC over HTTPS (a self-signed certificate): vsxi_xivo_target_certificate_expiry_timestamp_seconds.
        tls_runner, tls_url = await start_simulator(VsxiSimulator(password=PASSWORD), ssl_context=demo_tls())
        runners.append(tls_runner)
        tls_target = VsxiTarget(name="sbc-tls", url=tls_url, username="monitor", password=PASSWORD,
                                tls=TLSConfig(insecure_skip_verify=True), collectors=("realtime",))
        engine = make_engine(xml_target, json_target, faulty, xivo16, wazo, locked_out, tls_target)
        try:
            client = await aiohttp_client(create_app(engine, manage_engine=False))
            await engine.poll_once()
            await client.get("/metrics")  # the exporter's own request counters appear from the second scrape on
            assert (await client.get("/probe?target=sbc-unknown")).status == 400  # a refused name is exported
            text = await (await client.get("/metrics")).text()
        finally:
            await engine.stop()
    finally:
        for runner in runners:
            await runner.cleanup()
    check_metrics(text.encode())

    emitted = {}
    for fam in text_string_to_metric_families(text):
        labels = set()
        for s in fam.samples:
            labels |= set(s.labels) - {"le"}
        emitted[fam.name] = (fam.type, labels)

    documented = {}
    for spec in (*C.specs.values(), *XC.specs.values(), *STATUS_CATALOG.specs.values()):
        name = spec.name.removesuffix("_total") if spec.type == "counter" else spec.name
        type_ = "histogram" if spec.type == "gaugehistogram" else spec.type  # as the text format reads it
        documented[name] = (type_, set(spec.labels))
    for name, type_, labels, _ in SelfMetrics(FAMILIES.values()).reference():
        name = name.removesuffix("_total") if type_ == "counter" else name
        documented[name] = ("gauge" if type_ == "info" else type_, set(labels))

    ours = {n: v for n, v in emitted.items()
            if n.startswith(("vsxi_", "xivo_")) and not n.endswith(("_gsum", "_gcount"))}
    assert set(ours) == set(documented), (set(ours) ^ set(documented))
    for name, (type_, labels) in ours.items():
        # A labelled series with no child yet (the inventory's, without inventory files) shows no labels.
        assert (type_, labels or documented[name][1]) == documented[name], name

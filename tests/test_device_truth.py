"""Device truth: every stats table, answered as a device would, written by hand from the documented fields
(docs/device-apis.md), never rendered by the simulator (tests/fixtures/vsxi/device/).

The mysqldump tables (realtime, resource, resource_detail, sip_stats) come in XML and JSON, each in the old
layout (``<table name>``) and the new one (``<table_structure>`` + ``<table_data>``); the bean lists
(media_server, sub_stats, active_calls) in XML and JSON. Every variant of a table must give exactly the
samples below, all of them and nothing else, worked out by hand from the answer's values (sums, ratios,
units, buckets). resource_detail and sip_stats have no published field: their answers follow the documented
assumption, and the metrics they feed say "[assumed fields]" in HELP.

The simulator is then held to the same answers: for each table, format and layout it must write the same
document shape (root, sections, field names in the device's order, JSON value types), so the simulator and
the parser cannot drift apart together from what a device sends.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from exporter.exposition import join
from exporter.simulator.vsxi_model import TABLES, Scale, VsxiModel
from exporter.simulator.vsxi_render import render
from exporter.vsxi.collectors import parse_and_build

DEVICE = Path(__file__).parent / "fixtures" / "vsxi" / "device"
MYSQLDUMP = ("realtime", "resource", "resource_detail", "sip_stats")
BEANS = ("media_server", "sub_stats", "active_calls")
VARIANTS = [(t, f"{t}.{layout}.{fmt}") for t in MYSQLDUMP for layout in ("old", "new") for fmt in ("xml", "json")]
VARIANTS += [(t, f"{t}.{fmt}") for t in BEANS for fmt in ("xml", "json")]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def s(metric: str, value: float, **labels: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], float]:
    return (metric, tuple(sorted({"target": "sbc-1", **labels}.items()))), value


def trunk_rows(prefix: str, rows: list[tuple]) -> list:
    """(trunk_id, fqdn, numOrig, numTerm, numPeak, totalLimit, cps, cpsLimit, totalCLZ, numCLZCps)."""
    out = []
    for trunk, fqdn, orig, term, peak, limit, cps, cps_limit, clz, clz_cps in rows:
        k = {"trunk_id": trunk, "fqdn": fqdn}
        out += [s(f"{prefix}_active_sessions", orig, direction="ingress", **k),
                s(f"{prefix}_active_sessions", term, direction="egress", **k),
                s(f"{prefix}_peak_active_sessions", peak, **k), s(f"{prefix}_session_limit", limit, **k),
                s(f"{prefix}_calls_per_second", cps, **k), s(f"{prefix}_cps_limit", cps_limit, **k),
                s(f"{prefix}_clz_sessions", clz, **k), s(f"{prefix}_clz_calls_per_second", clz_cps, **k)]
    return out


HA_STATES = ("active", "standby", "standalone", "oos", "boot")

REALTIME = dict([
    s("vsxi_system_active_sessions", 1234), s("vsxi_system_peak_active_sessions", 4321),
    s("vsxi_system_session_limit", 19750), s("vsxi_system_session_limit_exceeded", 2),
    s("vsxi_system_cpu_idle_ratio", 0.87),  # cpu_idle_percent 87
    s("vsxi_system_flow_control_level", 0), s("vsxi_cluster_active_sessions", 2400),
    s("vsxi_cluster_peak_active_sessions", 8000), s("vsxi_system_demo_licence", -1),
    s("vsxi_system_calls_per_second", 42), s("vsxi_system_cps_limit", 10000),
    s("vsxi_system_cps_limit_exceeded", 5), s("vsxi_ha_slave_status", 64), s("vsxi_ha_local_status", 0),
    s("vsxi_ha_remote_status", 0), s("vsxi_ha_switch_over_flag", 3),
    s("vsxi_system_session_attempts_total", 8765432),
    s("vsxi_system_call_legs", 1200, protocol="sip", direction="inbound"),
    s("vsxi_system_call_legs", 1180, protocol="sip", direction="outbound"),
    s("vsxi_system_call_legs", 34, protocol="h323", direction="inbound"),
    s("vsxi_system_call_legs", 54, protocol="h323", direction="outbound"),
    s("vsxi_system_peak_call_legs", 8500, protocol="sip"), s("vsxi_system_peak_call_legs", 120, protocol="h323"),
    *[s("vsxi_ha_state", 1 if state == "active" else 0, state=state) for state in HA_STATES],
    *[s("vsxi_ha_previous_state", 1 if state == "standby" else 0, state=state) for state in HA_STATES],
    *trunk_rows("vsxi_trunk", [("1001", "Group", 300, 200, 950, 2000, 4, 100, 1, 0),
                               ("1001", "node1.example.net", 160, 110, 500, 1000, 2, 50, 0, 0),
                               ("2002", "Group", 12, 19, 77, 500, 1, 20, 0, 0)]),
    s("vsxi_gateway_active_sessions", 17, orig_trunk_id="1001", term_trunk_id="2002"),
    s("vsxi_gateway_peak_active_sessions", 40, orig_trunk_id="1001", term_trunk_id="2002"),
    s("vsxi_gateway_calls_per_second", 2, orig_trunk_id="1001", term_trunk_id="2002"),
])


def windows(trunk: str, direction: str, rows: dict[str, tuple]) -> list:
    """window -> (attempts, answers, failures, duration seconds, post-dial delay in seconds = pdd_ms / 1000)."""
    out = []
    for window, (attempts, answers, fails, seconds, pdd) in rows.items():
        k = {"trunk_id": trunk, "direction": direction, "window": window}
        out += [s("vsxi_trunk_window_call_attempts", attempts, **k), s("vsxi_trunk_window_call_answers", answers, **k),
                s("vsxi_trunk_window_call_failures", fails, **k),
                s("vsxi_trunk_window_call_duration_seconds", seconds, **k),
                s("vsxi_trunk_window_post_dial_delay_seconds", pdd, **k)]
    return out


RESOURCE = dict([
    *windows("1001", "ingress", {"15m": (9, 7, 1, 2100, 23.4), "1h": (40, 31, 3, 9300, 104),
                                 "24h": (194, 151, 13, 50323, 510.51)}),  # 510510 ms
    *windows("2002", "ingress", {"15m": (0, 0, 0, 0, 0), "1h": (0, 0, 0, 0, 0), "24h": (0, 0, 0, 0, 0)}),  # idle
    *windows("1001", "egress", {"15m": (5, 4, 0, 1200, 11), "1h": (20, 16, 2, 4800, 52),
                                "24h": (88, 70, 9, 21000, 230)}),
    *windows("2002", "egress", {"15m": (3, 2, 1, 600, 9), "1h": (11, 8, 2, 2400, 30.5),
                                "24h": (61, 45, 10, 13500, 170.25)}),
    s("vsxi_trunk_info", 1, trunk_id="1001", alias="ATL-PHL VSXs"),
    s("vsxi_trunk_info", 1, trunk_id="2002", alias="AT&T Peering"),  # &amp; in XML
])

RESOURCE_DETAIL = dict(trunk_rows("vsxi_resource_detail", [
    ("1001", "node1.example.net", 160, 110, 500, 1000, 2, 50, 0, 0),
    ("1001", "node2.example.net", 140, 90, 450, 1000, 2, 50, 1, 0),
    ("2002", "node1.example.net", 12, 19, 77, 500, 1, 20, 0, 0)]))

SIP = {"INVITE": (5100, 4800), "ACK": (4000, 3900), "BYE": (3700, 3650), "CANCEL": (210, 190),
       "OPTIONS": (8640, 8600), "REGISTER": (1200, 0), "1xx": (9300, 9800), "2xx": (16000, 16500),
       "3xx": (2, 1), "4xx": (700, 650), "5xx": (45, 30), "6xx": (6, 4)}
SIP_STATS = dict([s("vsxi_sip_messages", v, direction=d, message=m)
                  for m, pair in SIP.items() for d, v in zip(("inbound", "outbound"), pair, strict=True)])

MEDIA_SERVER = dict([
    *[item for index, alias, up, active, limit, priority, switch in [
        ("1", "MS-ATL", 1, 1125, 4000, 1, "Internal Media Switching"),
        ("2", "MS-PHL", 0, 0, 10000, 2, "External Advanced Hybrid-Media Switching"),  # status down
        ("3", "MS-MLT", 1, 12, 400, 3, "Advanced Hybrid-MLT")]
      for item in (s("vsxi_media_server_up", up, media_server=index, alias=alias),
                   s("vsxi_media_server_active_sessions", active, media_server=index, alias=alias),
                   s("vsxi_media_server_session_limit", limit, media_server=index, alias=alias),
                   s("vsxi_media_server_priority", priority, media_server=index, alias=alias),
                   s("vsxi_media_server_info", 1, media_server=index, alias=alias, switch_type=switch))],
])

SUB_STATS = dict([  # alice, 4045550101, carol on 1001; dave, erin, frank on 2002
    s("vsxi_registrations", 2, trunk_id="1001", state="Authenticated", protocol="UDP"),
    s("vsxi_registrations", 1, trunk_id="1001", state="Authenticated", protocol="TLS v1.2"),
    s("vsxi_registrations", 1, trunk_id="2002", state="Unauthenticated", protocol="TCP"),
    s("vsxi_registrations", 1, trunk_id="2002", state="Blocked", protocol="UDP"),
    s("vsxi_registrations", 1, trunk_id="2002", state="Pending", protocol="TLS"),
    s("vsxi_registrations_behind_nat", 2, trunk_id="1001"),  # alice, carol
    s("vsxi_registrations_behind_nat", 1, trunk_id="2002"),  # erin
])

# Durations 45, 3723, 0 (ringing: no ans_time), 125, 8.
BUCKETS = {"10": 2, "30": 2, "60": 3, "120": 3, "300": 4, "600": 4, "1800": 4, "3600": 4, "7200": 5, "14400": 5,
           "+Inf": 5}
ACTIVE_CALLS = dict([
    s("vsxi_active_calls", 3, orig_trunk_id="1001", term_trunk_id="2002"),
    s("vsxi_active_calls_answered", 2, orig_trunk_id="1001", term_trunk_id="2002"),
    s("vsxi_active_calls", 1, orig_trunk_id="2002", term_trunk_id="1001"),
    s("vsxi_active_calls_answered", 1, orig_trunk_id="2002", term_trunk_id="1001"),
    s("vsxi_active_calls", 1, orig_trunk_id="1001", term_trunk_id="3003"),
    s("vsxi_active_calls_answered", 1, orig_trunk_id="1001", term_trunk_id="3003"),
    *[s("vsxi_active_call_duration_seconds_bucket", n, le=le) for le, n in BUCKETS.items()],
    s("vsxi_active_call_duration_seconds_gcount", 5), s("vsxi_active_call_duration_seconds_gsum", 45 + 3723 + 125 + 8),
])

EXPECTED: dict[str, Samples] = {"realtime": REALTIME, "resource": RESOURCE, "resource_detail": RESOURCE_DETAIL,
                                "sip_stats": SIP_STATS, "media_server": MEDIA_SERVER, "sub_stats": SUB_STATS,
                                "active_calls": ACTIVE_CALLS}

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> Samples:
    """Every sample of a text exposition, keyed by name and sorted labels (escapes undone)."""
    out: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, line
        labels = tuple(sorted((k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                              for k, v in _LABEL.findall(m.group(2) or "")))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate sample {line}"
        out[key] = float(m.group(3))
    return out


def exposition(table: str, body: bytes) -> tuple[str, int]:
    result = parse_and_build(table, "sbc-1", body)
    return join([result.chunk], openmetrics=False).text().decode(), result.facts.unmapped_fields


def test_the_corpus_has_every_table_in_every_variant():
    assert set(EXPECTED) == set(TABLES)
    assert sorted(p.name for p in DEVICE.iterdir()) == sorted(name for _, name in VARIANTS)


@pytest.mark.parametrize("table,name", VARIANTS)
def test_a_device_answer_reads_as_worked_out_by_hand(table, name, check_metrics):
    text, unmapped = exposition(table, (DEVICE / name).read_bytes())
    got, expected = samples(text), EXPECTED[table]
    missing = {k: v for k, v in expected.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in expected}
    wrong = {k: (got[k], v) for k, v in expected.items() if k in got and got[k] != v}
    assert not (missing or extra or wrong), f"missing {missing}\nextra {extra}\nwrong (got, expected) {wrong}"
    assert unmapped == 0  # every field of these answers is a documented one
    check_metrics(text.encode())


# --- the simulator, held to the same answers ---------------------------------------------------------------


def _xml_shape(body: bytes) -> dict:
    root = etree.fromstring(body)
    if etree.QName(root).localname != "mysqldump":
        items = list(root)
        return {"root": root.tag, "item": items[0].tag, "fields": [c.tag for c in items[0]],
                "types": {c.tag: "text" for c in items[0]}}
    sections: dict[str, list[str]] = {}
    kinds = set()
    for table in root.iter("table", "table_data", "table_structure"):
        kinds.add(table.tag)
        if table.tag == "table_structure":
            continue
        rows = table.findall("row")
        sections[table.get("name")] = [f.get("name") for f in rows[0].findall("field")] if rows else []
    return {"root": "mysqldump", "layout": sorted(kinds), "sections": sections}


def _json_type(value) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def _listed(value) -> list:
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


def _json_shape(body: bytes) -> dict:
    doc = json.loads(body)
    (root,) = doc
    if root != "mysqldump":
        (item,) = doc[root]
        first = _listed(doc[root][item])[0]
        return {"root": root, "item": item, "fields": list(first),
                "types": {k: _json_type(v) for k, v in first.items()}}
    database = doc["mysqldump"]["database"]
    sections, types = {}, {}
    kinds = sorted(k for k in database if k in ("table", "table_data", "table_structure"))
    for table in (t for k in ("table", "table_data") for t in _listed(database.get(k))):
        rows = _listed(table.get("row"))
        fields = _listed(rows[0]["field"]) if rows else []
        sections[table["name"]] = [f["name"] for f in fields]
        types[table["name"]] = {f["name"]: _json_type(f.get("content")) for f in fields}
    return {"root": "mysqldump", "layout": kinds, "sections": sections, "types": types}


def shape(body: bytes) -> dict:
    return _json_shape(body) if body.lstrip()[:1] == b"{" else _xml_shape(body)


def _comparable(hand: dict, sim: dict) -> tuple[dict, dict]:
    """Sections the simulator leaves empty (it renders gw_realtime_stat as seen, with no row) are compared by
    name only: an empty table shows no field."""
    if "sections" not in hand:
        return hand, sim
    hand, sim = json.loads(json.dumps(hand)), json.loads(json.dumps(sim))
    for name, fields in sim["sections"].items():
        if not fields and name in hand["sections"]:
            hand["sections"][name] = []
            hand.get("types", {}).pop(name, None)
            sim.get("types", {}).pop(name, None)
    return hand, sim


@pytest.mark.parametrize("table,name", VARIANTS)
def test_the_simulator_writes_what_a_device_writes(table, name):
    fmt = name.rsplit(".", 1)[1]
    layout = name.split(".")[1] if table in MYSQLDUMP else "old"
    model = VsxiModel(Scale(trunks=3, registrations=6, calls=5, media_servers=3, nodes=2),
                      clock=lambda: 1_800_000_000.0)
    simulated = render(model.answer(table), fmt, layout)
    hand, sim = _comparable(shape((DEVICE / name).read_bytes()), shape(simulated))
    assert sim == hand

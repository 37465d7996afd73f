"""Device answers as other firmware writes them, from a corpus written by hand from docs/device-apis.md
(tests/fixtures/vsxi/field/), never rendered by the simulator. Each answer has its expected samples, worked
out by hand from the answer itself: byte-order marks and UTF-16, loose numbers (19,750, 98%, 1.5e2), values
that are no number (counted in vsxi_collector_unreadable_values, never a silent gap), field names in another
case, HH:MM:SS durations, the ways firmware says "not answered", sip_stats with a row per port, HA states in
capitals, and the empty answers an HA standby gives for the tables whose rows come and go.
"""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from helpers import sample

from exporter.exposition import join
from exporter.payload import PayloadError
from exporter.vsxi.collectors import parse_and_build

FIELD = FIXTURES / "field"

# file -> (table, expected samples {(metric, labels): value}, unmapped field names)
EXPECTED: dict[str, tuple[str, dict, int]] = {
    "realtime_bom.xml": ("realtime", {
        ("vsxi_system_active_sessions", ()): 9000, ("vsxi_system_session_limit", ()): 19750,
        ("vsxi_system_cpu_idle_ratio", ()): 0.71, ("vsxi_ha_state", (("state", "active"),)): 1,
        ("vsxi_trunk_active_sessions", (("direction", "ingress"), ("fqdn", "Group"), ("trunk_id", "1001"))): 300,
    }, 0),
    "realtime_bom.json": ("realtime", {
        ("vsxi_system_active_sessions", ()): 9000, ("vsxi_system_session_limit", ()): 19750,
        ("vsxi_trunk_active_sessions", (("direction", "egress"), ("fqdn", "Group"), ("trunk_id", "1001"))): 200,
    }, 0),
    "realtime_loose_values.xml": ("realtime", {
        ("vsxi_system_active_sessions", ()): 9000,  # 9,000
        ("vsxi_system_session_limit", ()): 19750,  # 19,750
        ("vsxi_system_cpu_idle_ratio", ()): 0.98,  # 98%
        ("vsxi_system_calls_per_second", ()): 150,  # 1.5e2
        ("vsxi_system_demo_licence", ()): None,  # true: no number ...
        ("vsxi_collector_unreadable_values", (("collector", "realtime"), ("field", "demo_lic"))): 1,  # ... counted
        ("vsxi_collector_unreadable_values", (("collector", "realtime"), ("field", "max_cps_allowed"))): 1,
        ("vsxi_collector_unreadable_values", (("collector", "realtime"), ("field", "flow_control_lev"))): None,
        ("vsxi_ha_state", (("state", "active"),)): 1,  # Active
        ("vsxi_ha_previous_state", (("state", "standby"),)): 1,  # STANDBY
    }, 0),
    "realtime_field_case.xml": ("realtime", {
        ("vsxi_system_active_sessions", ()): 9000, ("vsxi_ha_state", (("state", "standby"),)): 1,
        ("vsxi_trunk_active_sessions", (("direction", "ingress"), ("fqdn", "Group"), ("trunk_id", "1001"))): 300,
        ("vsxi_trunk_calls_per_second", (("fqdn", "Group"), ("trunk_id", "1001"))): 4,
    }, 0),
    "active_calls_clock_durations.xml": ("active_calls", {
        ("vsxi_active_calls", (("orig_trunk_id", "1001"), ("term_trunk_id", "2001"))): 8,
        # answered: not N/A, null, "" or 0000-00-00 00:00:00
        ("vsxi_active_calls_answered", (("orig_trunk_id", "1001"), ("term_trunk_id", "2001"))): 4,
        # 0, 0, 0 | 45 | 00:01:05 | 12:30 | 1:02:03 | soon (no duration: +Inf only)
        ("vsxi_active_call_duration_seconds_bucket", (("le", "10"),)): 3,
        ("vsxi_active_call_duration_seconds_bucket", (("le", "60"),)): 4,
        ("vsxi_active_call_duration_seconds_bucket", (("le", "120"),)): 5,
        ("vsxi_active_call_duration_seconds_bucket", (("le", "1800"),)): 6,
        ("vsxi_active_call_duration_seconds_bucket", (("le", "7200"),)): 7,
        ("vsxi_active_call_duration_seconds_bucket", (("le", "+Inf"),)): 8,
        ("vsxi_active_call_duration_seconds_gsum", ()): 45 + 65 + 750 + 3723,
        ("vsxi_collector_unreadable_values", (("collector", "active_calls"), ("field", "duration"))): 1,
    }, 0),
    "sip_stats_per_port.xml": ("sip_stats", {
        ("vsxi_sip_messages", (("direction", "inbound"), ("message", "INVITE"))): 150,
        ("vsxi_sip_messages", (("direction", "outbound"), ("message", "INVITE"))): 130,
        ("vsxi_sip_messages", (("direction", "inbound"), ("message", "2xx"))): 110,
    }, 0),
    "sub_stats_field_case.json": ("sub_stats", {
        ("vsxi_registrations", (("protocol", "UDP"), ("state", "Authenticated"), ("trunk_id", "1001"))): 2,
        ("vsxi_registrations", (("protocol", "TLS v1.2"), ("state", "Pending"), ("trunk_id", "1002"))): 1,
        ("vsxi_registrations_behind_nat", (("trunk_id", "1001"),)): 1,
    }, 0),
    "sub_stats_field_case.xml": ("sub_stats", {
        ("vsxi_registrations", (("protocol", "UDP"), ("state", "Authenticated"), ("trunk_id", "1001"))): 2,
        ("vsxi_registrations", (("protocol", "TLS v1.2"), ("state", "Pending"), ("trunk_id", "1002"))): 1,
        ("vsxi_registrations_behind_nat", (("trunk_id", "1001"),)): 1,
    }, 0),
}


def exposition(table: str, body) -> tuple[str, int]:
    result = parse_and_build(table, "sbc-1", body)
    return join([result.chunk], openmetrics=False).text().decode(), result.facts.unmapped_fields


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_field_answers_read_as_worked_out_by_hand(name):
    table, expected, unmapped = EXPECTED[name]
    text, got_unmapped = exposition(table, (FIELD / name).read_bytes())
    for (metric, labels), value in expected.items():
        assert sample(text, metric, target="sbc-1", **dict(labels)) == value, (metric, labels)
    assert got_unmapped == unmapped  # TrunkId, ID, Username are known fields, not unmapped ones


@pytest.mark.parametrize("name", ["realtime_bom.xml", "realtime_loose_values.xml", "realtime_field_case.xml"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_another_encoding_reads_the_same(name, encoding):
    body = (FIELD / name).read_bytes().removeprefix(b"\xef\xbb\xbf")
    text = body.decode().replace('encoding="UTF-8"', f'encoding="{encoding.upper().replace("-SIG", "")}"')
    encoded = text.encode(encoding)
    if encoding == "utf-16-be":
        encoded = b"\xfe\xff" + encoded  # with its byte-order mark, as a device would send it
    assert exposition("realtime", encoded) == exposition("realtime", body)


@pytest.mark.parametrize("table", ["resource_detail", "sip_stats"])
@pytest.mark.parametrize("name", ["standby_empty_body.txt", "standby_empty_object.json", "standby_empty_string.json",
                                  "resource_detail_rowless.xml"])
def test_an_empty_answer_is_zero_rows_where_rows_come_and_go(table, name):
    text, unmapped = exposition(table, (FIELD / name).read_bytes())
    assert unmapped == 0 and "vsxi_sip_messages{" not in text and "vsxi_resource_detail" not in text


@pytest.mark.parametrize("table", ["realtime", "resource", "media_server", "sub_stats", "active_calls"])
@pytest.mark.parametrize("name", ["standby_empty_body.txt", "standby_empty_object.json", "standby_empty_string.json"])
def test_an_empty_answer_still_fails_tables_that_always_have_rows(table, name):
    with pytest.raises(PayloadError) as err:
        parse_and_build(table, "sbc-1", (FIELD / name).read_bytes())
    assert err.value.reason == "degenerate_payload"


# --- the same answer, written differently: same samples ------------------------------------------------------

import json  # noqa: E402
import random  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree  # noqa: E402

CORPUS = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*.xml")) + sorted(
    p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*.json")) + [
    f"field/{n}" for n in EXPECTED] + sorted(f"device/{p.name}" for p in (FIXTURES / "device").iterdir())


def table_of(path: str) -> str:
    name = path.split("/")[-1]
    return next(t for t in ("realtime", "resource_detail", "resource", "sip_stats", "sub_stats", "active_calls",
                            "media_server") if name.startswith(t))


def rewrite_xml(body: bytes, rnd: random.Random, pretty: bool, encoding: str) -> bytes:
    root = etree.fromstring(body)
    rows = root.iter("{*}row") if etree.QName(root).localname == "mysqldump" else root
    for row in rows:
        children = list(row)
        rnd.shuffle(children)
        row[:] = children
    return etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=pretty)


def shuffle_json(node, rnd: random.Random):
    if isinstance(node, dict):
        items = list(node.items())
        rnd.shuffle(items)
        return {k: shuffle_json(v, rnd) for k, v in items}
    if isinstance(node, list):
        items = [shuffle_json(v, rnd) for v in node]
        if items and all(isinstance(v, dict) and "name" in v for v in items):  # a row's fields: any order
            rnd.shuffle(items)
        return items
    return node


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(CORPUS), rnd=st.randoms(use_true_random=False), pretty=st.booleans(),
       encoding=st.sampled_from(["UTF-8", "UTF-16"]), bom=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_reordered_fields_whitespace_encoding_and_bom_read_the_same(path, rnd, pretty, encoding, bom, indent):
    body = (FIXTURES / path).read_bytes()
    table = table_of(path)
    if path.endswith(".xml"):
        other = rewrite_xml(body, rnd, pretty, encoding)
    else:
        other = json.dumps(shuffle_json(json.loads(body.removeprefix(b"\xef\xbb\xbf")), rnd), indent=indent).encode()
    if bom and not other.startswith((b"\xff\xfe", b"\xfe\xff")):
        other = b"\xef\xbb\xbf" + other
    before, after = exposition(table, body), exposition(table, other)
    assert set(after[0].splitlines()) == set(before[0].splitlines()) and after[1] == before[1]

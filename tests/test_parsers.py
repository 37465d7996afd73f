"""Parsers on fixture files: every table, format and layout, the org.json quirks, and degenerate bodies."""

import pytest
from conftest import FIXTURES, encode, fixture

from exporter.bodystream import BodyStream
from exporter.catalog import Builder
from exporter.simulator.vsxi_model import TABLES
from exporter.vsxi import parse
from exporter.vsxi.collectors import COLLECTORS
from exporter.vsxi.wire import PayloadError, iter_beans, read_mysqldump

VARIANTS = [(layout, fmt) for layout in ("old", "new") for fmt in ("xml", "json")]


def exposition(table: str, body: bytes) -> bytes:
    b = Builder()
    COLLECTORS[table].build(b, "sbc-1", COLLECTORS[table].parse(body))
    return encode(b.families())


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("layout,fmt", VARIANTS)
def test_every_variant_gives_the_same_metrics(table, layout, fmt):
    """XML old layout is the reference; the JSON conversion and the new layout must not change a sample."""
    reference = exposition(table, fixture(f"{table}.old.xml"))
    assert exposition(table, fixture(f"{table}.{layout}.{fmt}")) == reference
    assert reference.count(b"\n") > 5


def test_realtime_values():
    """The hand-written device answer (tests/fixtures/vsxi/device/), values read off the file itself."""
    rec = parse.parse_realtime(fixture("device/realtime.old.xml"))
    assert rec.system.values["max_session_allowed"] == 19750
    assert rec.system.values["sum_attempt_session"] == 8765432
    assert rec.system.values["cpu_idle_percent"] == 87  # a percentage as read: the builder makes it a ratio
    assert rec.system.ha_current_state == "active" and rec.system.ha_pre_state == "standby"
    assert {(t.trunk_id, t.fqdn): (t.values["numOrig"], t.values["numTerm"]) for t in rec.trunks} == {
        ("1001", "Group"): (300, 200), ("1001", "node1.example.net"): (160, 110), ("2002", "Group"): (12, 19)}
    (gw,) = rec.gateways
    assert (gw.orig_trunk_id, gw.term_trunk_id, gw.values) == (
        "1001", "2002", {"num_active_session": 17, "peak_active_session": 40, "active_cps": 2})
    assert rec.unmapped.names == frozenset() and rec.duplicates == 0


def test_resource_values_and_units():
    rec = parse.parse_resource(fixture("device/resource.old.xml"))
    w = next(w for w in rec.windows if (w.trunk_id, w.direction, w.window) == ("1001", "ingress", "24h"))
    assert (w.attempts, w.answers, w.failures) == (194, 151, 13)  # the reference's example
    assert w.duration_seconds == 50323
    assert w.post_dial_delay_seconds == 510.51  # pdd_ms 510510 / 1000
    assert rec.aliases == {"1001": "ATL-PHL VSXs", "2002": "AT&T Peering"}


def test_json_single_row_object_missing_content_and_numbers_as_strings():
    rec = parse.parse_realtime(fixture("quirks/realtime_single_row.json"))
    assert rec.system.values["sum_active_session"] == 412  # "412" as a string
    assert "ha_local_status" not in rec.system.values  # no content: absent, never 0
    assert rec.system.values["current_cps"] == 4.5
    assert rec.gateways == ()  # an empty table has no "row" key
    (trunk,) = rec.trunks  # one row arrives as an object, not a list
    assert (trunk.trunk_id, trunk.values["numOrig"], trunk.values["numTerm"]) == ("20", 7, 3)


def test_xsi_nil_whitespace_duplicates_and_unmapped_fields():
    rec = parse.parse_realtime(fixture("quirks/realtime_nil.xml"))
    assert "max_session_allowed" not in rec.system.values  # xsi:nil is NULL, not 0
    assert rec.system.values["cpu_idle_percent"] == 90
    assert rec.system.ha_current_state == "standalone"
    assert [t.trunk_id for t in rec.trunks] == ["0042"]  # ids stay strings: leading zeros kept
    assert rec.duplicates == 1
    assert rec.unmapped.names == {("system_stat", "firmware_new_gauge")}
    (u,) = rec.unmapped.values
    assert (u.section, u.field, u.row, u.value) == ("system_stat", "firmware_new_gauge", "0", 17)


def test_unknown_ha_state_gets_its_own_sample():
    text = encode_realtime = exposition("realtime", fixture("quirks/realtime_nil.xml")).decode()
    assert 'vsxi_ha_state{state="standalone",target="sbc-1"} 1.0' in text
    assert 'vsxi_ha_state{state="active",target="sbc-1"} 0.0' in text
    assert encode_realtime.count("vsxi_trunk_active_sessions{") == 2  # the duplicated row is exported once


def test_bean_list_single_object_and_status():
    (ms,) = parse.parse_media_server(fixture("quirks/media_server_single.json")).servers
    assert (ms.index, ms.alias, ms.status, ms.max_connections) == ("3", "MS-East", "down", 10000)
    assert 'vsxi_media_server_up{alias="MS-East",media_server="3",target="sbc-1"} 0.0' in \
        exposition("media_server", fixture("quirks/media_server_single.json")).decode()


@pytest.mark.parametrize("name", ["sub_stats_empty.json", "sub_stats_empty.xml"])
def test_empty_bean_list_is_zero_registrations_not_an_error(name):
    rec = parse.parse_sub_stats(fixture(f"quirks/{name}"))
    assert rec.total == 0 and rec.counts == {}


def test_sub_stats_aggregates_without_personal_data():
    rec = parse.parse_sub_stats(fixture("sub_stats.old.xml"))
    assert rec.total == sum(rec.counts.values()) > 0
    text = exposition("sub_stats", fixture("sub_stats.old.xml")).decode()
    for secret in ("user0", "10.0.", "Yealink", "sip:"):
        assert secret not in text
    assert 'vsxi_registrations{protocol="TLS v1.2",state="Authenticated",target="sbc-1",trunk_id="1001"} 1.0' in text


MIXED_CASE_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<XBSubStatsList>
<XBSubStats><id>1</id><states>Authenticated</states><nat>Yes</nat><trunkId>1001</trunkId><protocol>UDP</protocol></XBSubStats>
<XBSubStats><id>2</id><States>Registered</States><NAT>No</NAT><TrunkId>1002</TrunkId><Protocol>TCP</Protocol></XBSubStats>
<XBSubStats><id>3</id><states>Authenticated</states><nat>No</nat><trunkId>1001</trunkId><protocol>UDP</protocol></XBSubStats>
</XBSubStatsList>"""
MIXED_CASE_JSON = (b'{"XBSubStatsList": {"XBSubStats": ['
                   b'{"id": 1, "states": "Authenticated", "nat": "Yes", "trunkId": 1001, "protocol": "UDP"},'
                   b'{"id": 2, "States": "Registered", "NAT": "No", "TrunkId": 1002, "Protocol": "TCP"},'
                   b'{"id": 3, "states": "Authenticated", "nat": "No", "trunkId": 1001, "protocol": "UDP"}]}}')


@pytest.mark.parametrize("body", [MIXED_CASE_XML, MIXED_CASE_JSON], ids=["xml", "json"])
def test_sub_stats_rows_spelling_fields_in_another_case(body):
    """A row whose field names differ in case from the first row's (States here, states there) is read by its
    own spelling: its state, trunk and protocol, never 'unknown'. Counted by hand from the three rows."""
    for stream in (False, True):
        rec = parse.parse_sub_stats(BodyStream.of(body, chunk=64, head=256) if stream else body)
        assert rec.counts == {("1001", "Authenticated", "UDP"): 2, ("1002", "Registered", "TCP"): 1}, stream
        assert rec.nat == {"1001": 1} and rec.total == 3


def test_active_calls_pairs_answered_and_duration_histogram():
    rec = parse.parse_active_calls(fixture("quirks/active_calls_single.json"))
    assert rec.pairs == {("20", "30"): (1, 0)}  # empty ans_time: ringing
    assert rec.duration_buckets[0] == (10.0, 1) and rec.duration_buckets[-1][1] == 1
    rec = parse.parse_active_calls(fixture("active_calls.old.xml"))
    counts = [n for _, n in rec.duration_buckets]
    assert counts == sorted(counts) and counts[-1] == rec.total == sum(c for c, _ in rec.pairs.values())
    text = exposition("active_calls", fixture("active_calls.old.xml")).decode()
    assert "14045" not in text and "@sbc" not in text  # no number, no call id


def test_resource_with_one_empty_direction():
    rec = parse.parse_resource(fixture("quirks/resource_one_direction.xml"))
    assert {(w.trunk_id, w.direction) for w in rec.windows} == {("20", "ingress")}
    w24 = next(w for w in rec.windows if w.window == "24h")
    assert w24.attempts == 194 and w24.post_dial_delay_seconds == pytest.approx(510.51)
    assert next(w for w in rec.windows if w.window == "1h").attempts is None  # absent field: no sample


def test_entities_are_not_expanded():
    rows = read_mysqldump(fixture("quirks/entity_expansion.xml"))
    assert "lol" not in repr(rows)


def test_assumed_tables_map_known_shapes_and_expose_the_rest():
    rec = parse.parse_sip_stats(fixture("sip_stats.old.xml"))
    assert {(m.direction, m.message) for m in rec.messages} >= {("inbound", "INVITE"), ("outbound", "4xx")}
    assert rec.unmapped.names == frozenset()
    body = b"""<mysqldump><database><table name="sip_counters"><row><field name="id">1</field>
        <field name="RX_bye">5</field><field name="registrations_expired">9</field>
        <field name="note">text</field></row></table></database></mysqldump>"""
    rec = parse.parse_sip_stats(body)
    assert [(m.direction, m.message, m.value) for m in rec.messages] == [("inbound", "BYE", 5)]
    assert rec.unmapped.names == {("sip_counters", "registrations_expired"), ("sip_counters", "note")}
    assert [(u.field, u.value) for u in rec.unmapped.values] == [("registrations_expired", 9)]
    detail = parse.parse_resource_detail(b"""<mysqldump><database><table name="rd"><row>
        <field name="trunkId">7</field><field name="fqdn">n1</field><field name="numOrig">3</field>
        <field name="numRejected">2</field></row></table></database></mysqldump>""")
    assert detail.rows[0].values == {"numOrig": 3}
    assert [(u.section, u.field, u.row) for u in detail.unmapped.values] == [("rd", "numRejected", "7/n1")]


@pytest.mark.parametrize("sip_field,expected", [
    ("in_INVITE", ("inbound", "INVITE")), ("outbound-200", ("outbound", "200")), ("tx5xx", ("outbound", "5xx")),
    ("BYE_rx", ("inbound", "BYE")), ("invite", None), ("in_FOO", None),
])
def test_sip_field_names(sip_field, expected):
    assert parse.sip_field(sip_field) == expected


DEGENERATE = [
    ("empty_object.json", "degenerate_payload", "empty JSON object {}"),
    ("empty_database.json", "degenerate_payload", "empty database"),
    ("empty_database.xml", "degenerate_payload", "empty database"),
    ("html_page.html", "degenerate_payload", "HTML page"),
    ("plain_text.txt", "invalid_payload", "neither XML nor JSON"),
    ("empty_body.txt", "degenerate_payload", "empty body"),
    ("json_array.json", "invalid_payload", "expected a JSON object"),
]


EMPTY = {"empty_object.json", "empty_database.json", "empty_database.xml", "empty_body.txt"}
ROWS_COME_AND_GO = {"resource_detail", "sip_stats"}  # an idle SBC or an HA standby may leave them empty


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("name,reason,message", DEGENERATE)
def test_degenerate_bodies_fail_every_table_and_empty_ones_are_zero_rows_where_rows_come_and_go(
        table, name, reason, message):
    if name in EMPTY and table in ROWS_COME_AND_GO:
        rec = COLLECTORS[table].parse(fixture(f"degenerate/{name}"))
        assert rec.tables == 0 and not rec.unmapped.names
        assert not (rec.rows if table == "resource_detail" else rec.messages)
        return
    with pytest.raises(PayloadError) as err:
        COLLECTORS[table].parse(fixture(f"degenerate/{name}"))
    assert err.value.reason == reason
    assert message in str(err.value)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("fmt,message", [("xml", "malformed XML"), ("json", "malformed JSON")])
def test_truncated_answers_are_invalid(table, fmt, message):
    body = fixture(f"{table}.old.{fmt}")
    with pytest.raises(PayloadError) as err:
        COLLECTORS[table].parse(body[: len(body) // 2])
    assert err.value.reason == "invalid_payload"
    assert message in str(err.value)


@pytest.mark.parametrize("table,other", [("sub_stats", "realtime.old.xml"), ("media_server", "sub_stats.old.json"),
                                         ("realtime", "resource.old.xml"), ("resource", "realtime.new.json")])
def test_answer_of_another_table_is_rejected(table, other):
    with pytest.raises(PayloadError) as err:
        COLLECTORS[table].parse(fixture(other))
    assert err.value.reason == "degenerate_payload"


def test_stream_parse_clears_rows():
    body = b"<L>" + b"<I><a>1</a></I>" * 1000 + b"</L>"
    assert sum(1 for _ in iter_beans(body, "L")) == 1000


# --- the two XML paths: a whole tree under FAST_PATH_MAX_BYTES, iterparse above ------------------------------

BEAN_LISTS = {"media_server": "XBMediaServerRealTimeStatList", "sub_stats": "XBSubStatsList",
              "active_calls": "XBActiveCallsList"}
ODD_XML = [
    # namespaces, whitespace, comments, CDATA, PIs, nil with text, an entity reference that must stay unexpanded
    b'<d:mysqldump xmlns:d="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><d:database>'
    b'<d:table name="system_stat"><d:row><d:field name="a"> 1 </d:field><!-- c --><d:field name="b" xsi:nil="true">'
    b'2</d:field><?pi x?><d:field name="c"><![CDATA[3]]></d:field><d:other>9</d:other></d:row></d:table>'
    b'</d:database></d:mysqldump>',
    b'<mysqldump><database><table_structure name="t"><field Field="a"/></table_structure>'
    b'<table_data name="t"></table_data><table name="u"><row></row><row><field>x</field></row></table>'
    b'</database></mysqldump>',
    b'<L xmlns="urn:beans"><I><a>1</a><b/><c>  </c></I><!-- c --><I><a>&amp;2</a></I><J><a>3</a></J></L>',
    b'<L><I><a>1</a></I><I><a>2</a></L>',  # malformed
    b'<?xml version="1.0"?><!DOCTYPE L [<!ENTITY e "boom">]><L><I><a>&e;</a></I></L>',
]


def _read(body: bytes, stream: bool, beans: str | None):
    try:
        if beans:
            return list(iter_beans(body, beans, stream=stream))
        return read_mysqldump(body, stream=stream)
    except PayloadError as exc:
        return exc.reason, str(exc).split(":")[0]


@pytest.mark.parametrize("path", sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.xml")))
def test_tree_and_stream_paths_read_every_fixture_alike(path):
    body = fixture(path)
    table = next((t for t in TABLES if path.split("/")[-1].startswith(t)), None)
    beans = BEAN_LISTS.get(table)
    fast, streamed = _read(body, False, beans), _read(body, True, beans)
    assert fast == streamed
    assert fast or "empty" in path  # something was read (rows, or a reason)


@pytest.mark.parametrize("body", ODD_XML)
@pytest.mark.parametrize("beans", [None, "L"])
def test_tree_and_stream_paths_agree_on_odd_xml(body, beans):
    fast, streamed = _read(body, False, beans), _read(body, True, beans)
    if fast == ("invalid_payload", "malformed XML"):
        # Malformed and of the wrong root: the tree path reports the syntax error first, the streaming path
        # the root it saw before reaching it. Both fail the table with a reason.
        assert isinstance(streamed, tuple) and streamed[0] in ("invalid_payload", "degenerate_payload")
    else:
        assert fast == streamed


def test_large_answers_take_the_streaming_path(monkeypatch):
    from exporter.vsxi import wire

    body = b"<L>" + b"<I><a>1</a></I>" * 10 + b"</L>"
    monkeypatch.setattr(wire, "_tree", lambda body: pytest.fail("a large answer must not build a tree"))
    monkeypatch.setattr(wire, "FAST_PATH_MAX_BYTES", len(body) - 1)
    assert sum(1 for _ in iter_beans(body, "L")) == 10


# --- JSON bean lists: json.loads under FAST_PATH_MAX_BYTES, streamed (ijson) above -----------------------------

JSON_BEAN_CASES = [(t, f"{t}.{layout}.json") for t in BEAN_LISTS for layout in ("old", "new")] + [
    ("media_server", "quirks/media_server_single.json"), ("active_calls", "quirks/active_calls_single.json"),
    ("sub_stats", "quirks/sub_stats_empty.json")] + [
    (t, f"degenerate/{name}") for t in BEAN_LISTS for name in
    ("empty_object.json", "empty_database.json", "json_array.json")]
ODD_JSON = [b'{"L": ""}', b'{"L": null}', b'{"L": {}}', b'{"L": []}', b'{"L": 5}', b'{"L": {"I": 3}}',
            b'{"x": {"L": 1}, "L": {"I": {"a": 1, "b": "x"}}}', b'{"L": {"I": [{"a": 1.5}, 2, {"b": true}]}}',
            b'{"L": {"I": [{"a": 1}', b'{"L": {"I": [{"a": NaN}]}}', b'[1, 2]', b'{}', b'{"mysqldump": {}}']


def _read_json(body: bytes, list_tag: str, stream: bool):
    try:
        return list(iter_beans(body, list_tag, stream=stream))
    except PayloadError as exc:
        return exc.reason, str(exc).split(":")[0]


@pytest.mark.parametrize("table,path", JSON_BEAN_CASES)
def test_json_streamed_and_loaded_alike(table, path):
    body = fixture(path)
    assert _read_json(body, BEAN_LISTS[table], True) == _read_json(body, BEAN_LISTS[table], False)
    full = body[: len(body) // 2]
    if len(full) > 2:  # truncated: malformed either way
        assert _read_json(full, BEAN_LISTS[table], True)[0] == "invalid_payload"


@pytest.mark.parametrize("body", ODD_JSON)
def test_json_streamed_and_loaded_alike_on_odd_documents(body):
    loaded, streamed = _read_json(body, "L", False), _read_json(body, "L", True)
    if b"NaN" in body:  # Python's json accepts NaN, which then is no number; ijson refuses the document
        from exporter.payload import num

        assert streamed == ("invalid_payload", "malformed JSON")
        assert loaded == [{"a": "nan"}] and num(loaded[0]["a"]) is None
    else:
        assert streamed == loaded


def test_large_json_bean_list_is_streamed_in_bounded_memory():
    import tracemalloc

    from exporter.simulator.vsxi_model import Scale, VsxiModel
    from exporter.simulator.vsxi_render import render

    model = VsxiModel(Scale(trunks=50, registrations=30_000), clock=lambda: 1_800_000_000.0)
    body = render(model.answer("sub_stats"), "json")
    assert len(body) > 2 * (1 << 20)  # over FAST_PATH_MAX_BYTES: the streaming path
    tracemalloc.start()
    rec = parse.parse_sub_stats(body)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rec.total == 30_000 * 0 + sum(rec.counts.values()) and rec.total > 25_000
    assert peak < len(body) / 4, f"{peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB answer"


# --- bodies streamed into the parser as they arrive (BodyStream) ---------------------------------------------


def _records(table: str, body):
    try:
        return COLLECTORS[table].parse(body)
    except PayloadError as exc:
        return exc.reason, str(exc).split(":")[0]


@pytest.mark.parametrize("path", sorted(p.relative_to(FIXTURES).as_posix()
                                        for p in FIXTURES.rglob("*") if p.suffix in (".xml", ".json")))
def test_streamed_bodies_read_every_fixture_as_whole_ones(path):
    """Odd chunk sizes, and a head just large enough for the start of the document: chunk boundaries fall
    inside tags, names, values and multi-byte characters."""
    body = fixture(path)
    named = next((t for t in TABLES if path.split("/")[-1].startswith(t)), None)
    for table in [named] if named else TABLES:  # degenerate answers: as any table
        whole = _records(table, body)
        for chunk in (1, 7, 4096):
            stream = BodyStream.of(body, chunk=chunk, head=min(len(body), 1024))
            assert _records(table, stream) == whole, (table, chunk)


# Odd XML as a mysqldump and as a bean list; odd JSON as a bean list only (a JSON mysqldump document is read
# whole either way: the fixtures above cover it).
ODD_STREAMED = [(body, beans) for body in ODD_XML for beans in (None, "L")] + [(body, "L") for body in ODD_JSON]


@pytest.mark.parametrize("body,beans", ODD_STREAMED)
def test_streamed_bodies_read_odd_documents_as_the_streaming_path(body, beans):
    assert _read(BodyStream.of(body, chunk=5, head=len(body)), True, beans) == _read(body, True, beans)


@pytest.mark.parametrize("body,message", [
    (b"<L>" + b" " * 100 + b"<I><a>1</a></I></L>", "no <L> item within the first 50 bytes"),
    (b'{"L": ' + b" " * 100 + b'{"I": [{"a": 1}]}}', "no L item within the first 50 bytes"),
])
def test_a_stream_whose_first_bytes_show_no_item_is_an_error_not_an_empty_list(body, message):
    with pytest.raises(PayloadError) as err:
        list(iter_beans(BodyStream.of(body, chunk=50), "L"))
    assert err.value.reason == "invalid_payload" and message in str(err.value)

"""Fuzzing every parser: whatever a device sends, the answer is read or refused with PayloadError, never
another exception, and what is read renders to an exposition prometheus-client can parse back.

Bounded here (FUZZ_EXAMPLES, default 150 per test); `python bench/fuzz.py` runs the same properties longer.
Inputs are built from the wire formats' own shapes (mysqldump old and new layout, bean lists, org.json
conversions), then mutated, so that most examples reach the parsers' inner code, not only the sniffing.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exporter.catalog import Builder
from exporter.exposition import join
from exporter.payload import PayloadError
from exporter.vsxi.collectors import COLLECTORS
from exporter.xivo import parse as xp
from exporter.xivo.answers import AmiSipAnswers, CalldSipAnswers, ChannelAnswers, ObjectAnswers, QueueStatusAnswer
from exporter.xivo.collectors import COLLECTORS as XIVO_COLLECTORS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

FIELD_NAMES = ["id", "trunkId", "trunk_id", "fqdn", "numOrig", "numTerm", "cps", "alias", "states", "nat",
               "protocol", "orig_tid", "term_tid", "ans_time", "duration", "mediaSrvIndex", "status",
               "sum_active_session", "ha_current_state", "1h_call_attempt", "in_INVITE", "out_4xx", "x y", "é"]
TEXT = st.one_of(st.sampled_from(["", " ", "0", "-1", "12", "1.5", "1e400", "NaN", "inf", "Group", "up", "Yes",
                                  "Authenticated", "UDP", "0000-00-00 00:00:00", "19,750", "98%", "&amp;",
                                  "<![CDATA[7]]>", 'a"b', "a\\b", "line\nbreak"]),
                 st.text(max_size=12))
TABLES = ["system_stat", "XBResourceRealTimeStatList", "gw_realtime_stat", "ingress_stat", "gw_egress_stat",
          "sip", "rd", ""]


def _xml_text(value: str) -> str:
    if value.startswith("<![CDATA[") or value.startswith("&amp;"):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;")


@st.composite
def mysqldump_xml(draw) -> bytes:
    layout = draw(st.sampled_from(["table", "table_data"]))
    parts = ['<mysqldump xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><database name="d">']
    for _ in range(draw(st.integers(0, 3))):
        parts.append(f'<{layout} name="{draw(st.sampled_from(TABLES))}">')
        for _ in range(draw(st.integers(0, 4))):
            parts.append("<row>")
            for _ in range(draw(st.integers(0, 6))):
                name = draw(st.sampled_from(FIELD_NAMES)).replace('"', "")
                if draw(st.booleans()) and draw(st.booleans()):
                    parts.append(f'<field name="{name}" xsi:nil="true" />')
                else:
                    parts.append(f'<field name="{name}">{_xml_text(draw(TEXT))}</field>')
            parts.append("</row>")
        parts.append(f"</{layout}>")
    parts.append("</database></mysqldump>")
    return "".join(parts).encode()


@st.composite
def bean_xml(draw) -> bytes:
    root = draw(st.sampled_from(["XBSubStatsList", "XBActiveCallsList", "XBMediaServerRealTimeStatList", "L"]))
    item = draw(st.sampled_from(["XBSubStats", "XBActiveCall", "XBMediaServerRealTimeStat", "I"]))
    parts = [f"<{root}>"]
    for _ in range(draw(st.integers(0, 5))):
        parts.append(f"<{item}>")
        for _ in range(draw(st.integers(0, 6))):
            name = draw(st.sampled_from(FIELD_NAMES[:-2]))
            value = draw(TEXT)
            parts.append(f"<{name}>{_xml_text(value)}</{name}>" if value else f"<{name}/>")
        parts.append(f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode()


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                         TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELD_NAMES + ["name", "content", "row",
                                                                                  "field", "table"]), inner,
                                                 max_size=5)), max_leaves=20)


@st.composite
def json_answer(draw) -> bytes:
    shape = draw(st.sampled_from(["mysqldump", "beans", "any"]))
    if shape == "mysqldump":
        rows = draw(st.lists(st.dictionaries(st.just("field"), st.lists(st.fixed_dictionaries(
            {"name": st.sampled_from(FIELD_NAMES), "content": JSON_SCALARS})), max_size=1), max_size=4))
        key = draw(st.sampled_from(["table", "table_data"]))
        doc = {"mysqldump": {"database": {key: {"name": draw(st.sampled_from(TABLES)), "row": rows}}}}
    elif shape == "beans":
        items = draw(st.lists(st.dictionaries(st.sampled_from(FIELD_NAMES), JSON_SCALARS, max_size=6), max_size=5))
        doc = {draw(st.sampled_from(["XBSubStatsList", "XBActiveCallsList", "XBMediaServerRealTimeStatList"])):
               {"item": items[0] if len(items) == 1 else items} if items else ""}
    else:
        doc = draw(JSON_VALUES)
    return json.dumps(doc, allow_nan=True).encode()


def mutated(base):
    """The well-formed answer, or the same cut short, with bytes flipped, or with a BOM or junk in front."""
    @st.composite
    def strategy(draw) -> bytes:
        body = draw(base)
        how = draw(st.sampled_from(["as is", "as is", "cut", "flip", "prefix"]))
        if how == "cut" and body:
            return body[: draw(st.integers(0, len(body)))]
        if how == "flip" and body:
            i = draw(st.integers(0, len(body) - 1))
            return body[:i] + bytes([draw(st.integers(0, 255))]) + body[i + 1:]
        if how == "prefix":
            return draw(st.sampled_from([b"\xef\xbb\xbf", b" \n", b"<?xml version='1.0'?>", b"\x00"])) + body
        return body
    return strategy()


ANSWERS = st.one_of(mutated(mysqldump_xml()), mutated(bean_xml()), mutated(json_answer()),
                    st.binary(max_size=200))


def check_renders(builder: Builder) -> None:
    text = join([builder.chunk()], openmetrics=False).text().decode()
    list(text_string_to_metric_families(text))  # parses back: escaping and values are sound


@SETTINGS
@given(body=ANSWERS, table=st.sampled_from(sorted(COLLECTORS)), stream=st.sampled_from([None, True, False, "chunks"]),
       chunk=st.integers(1, 300), head=st.integers(1, 2000))
def test_vsxi_parsers_read_or_refuse_anything(body, table, stream, chunk, head):
    from exporter.bodystream import BodyStream
    from exporter.vsxi import wire

    old = wire.FAST_PATH_MAX_BYTES
    if stream in (True, False):  # both XML/JSON paths: the tree and the streaming one
        wire.FAST_PATH_MAX_BYTES = 0 if stream else 1 << 30
    try:
        # "chunks": as a large answer reaches a parse worker, a head and then chunks of any size.
        rec = COLLECTORS[table].parse(BodyStream.of(body, chunk=chunk, head=head) if stream == "chunks" else body)
    except PayloadError:
        return
    finally:
        wire.FAST_PATH_MAX_BYTES = old
    b = Builder()
    COLLECTORS[table].build(b, "sbc-fuzz", rec)
    check_renders(b)


XIVO_BODIES = st.one_of(mutated(json_answer()), st.binary(max_size=100),
                        mutated(st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES)))


@SETTINGS
@given(body=XIVO_BODIES, other=XIVO_BODIES, collector=st.sampled_from(
    ["objects", "devices", "agents", "queues", "queue_status", "channels", "sip_xivo", "sip_wazo"]))
def test_xivo_parsers_read_or_refuse_anything(body, other, collector):
    calls = {
        "objects": lambda: xp.parse_objects(ObjectAnswers({"users": body, "queues": None}, {"sip": other})),
        "devices": lambda: xp.parse_devices([body, other]),
        "agents": lambda: xp.parse_agents(body),
        "queues": lambda: xp.parse_queue_summary(body),
        "queue_status": lambda: xp.parse_queue_status(QueueStatusAnswer(body, members=True, max_members=50)),
        "channels": lambda: xp.parse_channels(ChannelAnswers(body, other)),
        "sip_xivo": lambda: xp.parse_sip(AmiSipAnswers(body, other)),
        "sip_wazo": lambda: xp.parse_sip(CalldSipAnswers(body, other)),
    }
    try:
        rec = calls[collector]()
    except PayloadError:
        return
    b = Builder()
    XIVO_COLLECTORS[collector if collector in XIVO_COLLECTORS else collector.rsplit("_", 1)[0]].build(
        b, "pbx-fuzz", rec)
    check_renders(b)

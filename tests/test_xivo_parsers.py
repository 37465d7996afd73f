"""XiVO parsers on hand-written fixtures (from the reference, not from the simulator), golden expositions."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import GOLDEN, encode

from exporter.catalog import Builder
from exporter.vsxi.wire import PayloadError
from exporter.xivo import parse as p
from exporter.xivo.answers import AmiSipAnswers, CalldSipAnswers, ChannelAnswers, ObjectAnswers, QueueStatusAnswer
from exporter.xivo.collectors import COLLECTORS

F = Path(__file__).parent / "fixtures" / "xivo"


def fx(name: str) -> bytes:
    return (F / name).read_bytes()


def collector_of(case: str) -> str:
    """A case is a collector's name, or that name and a variant (sip_wazo)."""
    return case if case in COLLECTORS else case.rsplit("_", 1)[0]


def exposition(collector: str, rec) -> bytes:
    b = Builder()
    COLLECTORS[collector].build(b, "pbx-golden", rec)
    return encode(b.families())


CASES = {
    "objects": lambda: p.parse_objects(ObjectAnswers({"users": fx("users.json"), "queues": None},
                                                      {"sip": fx("users.json")})),
    "devices": lambda: p.parse_devices([fx("devices_page1.json"), fx("devices_page2.json")]),
    "agents_xivo": lambda: p.parse_agents(fx("agents_xivo.json")),
    "agents_wazo": lambda: p.parse_agents(fx("agents_wazo.json")),
    "queues": lambda: p.parse_queue_summary(fx("queue_summary.json")),
    "queue_status": lambda: p.parse_queue_status(QueueStatusAnswer(fx("queue_status.json"), members=True)),
    "queue_status_wazo": lambda: p.parse_queue_status(QueueStatusAnswer(fx("queue_status_wazo.json"),
                                                                         members=True)),
    "channels": lambda: p.parse_channels(ChannelAnswers(fx("core_status.json"),
                                                         fx("core_show_channels.json"))),
    "sip_xivo": lambda: p.parse_sip(AmiSipAnswers(fx("sip_peers.json"), fx("sip_registry.json"))),
    "sip_wazo": lambda: p.parse_sip(CalldSipAnswers(fx("calld_trunks.json"), fx("calld_lines.json"),
                                                     contacts=fx("pjsip_contacts.json"))),
}


@pytest.mark.parametrize("case", CASES)
def test_golden(case, check_metrics):
    text = exposition(collector_of(case), CASES[case]())
    path = GOLDEN / f"xivo_{case}.prom"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text)
    assert text.decode() == path.read_text()
    check_metrics(text)
    assert b"should-never-be-seen" not in text


def test_values():
    objects = CASES["objects"]()
    assert objects.totals == {"users": 120} and objects.unsupported == ("queues",)
    assert objects.lines_by_protocol == {"sip": 120}
    devices = CASES["devices"]()
    assert devices.by_status == {"configured": 1, "autoprov": 1, "not_configured": 1}  # b2 counted once
    assert CASES["agents_xivo"]() == p.Agents(2, 1, None)  # no pause state: None, not 0
    assert CASES["agents_wazo"]() == p.Agents(3, 2, 1)
    support = next(q for q in CASES["queues"]() if q.queue == "support")
    assert (support.callers, support.available, support.longest_hold_time) == (3, 0, 95)
    channels = CASES["channels"]()
    assert (channels.current_calls, channels.by_state) == (2, {"Up": 2, "Ringing": 1})
    # core_status.json: CoreStartupDate 2026-11-20, CoreStartupTime 08:00:00; reload 2026-11-21 03:00:00, read
    # as UTC by default.
    assert channels.started == datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()
    assert channels.reloaded == datetime(2026, 11, 21, 3, 0, tzinfo=UTC).timestamp()
    sip = CASES["sip_xivo"]()
    assert sip.peers_by_status == {"ok": 2, "lagged": 1, "unreachable": 1, "unknown": 1, "unmonitored": 1}
    assert sip.trunks == {"0123456789@sip.carrier.example": True, "0123456789@backup.carrier.example": False}
    wazo = CASES["sip_wazo"]()
    assert wazo.trunks == {"carrier-a": True, "carrier-b": False}
    assert wazo.lines_by_state == {"registered": 2, "unregistered": 1}


def test_sip_trunks_reachability_and_round_trip_as_worked_out_by_hand():
    """sip_peers.json: the chan_sip peers with a configured host (Dynamic: no) are the trunks, the phone
    (Dynamic: yes) is not one; pjsip_contacts.json: calld's SIP trunks by their best contact (carrier-a has an
    unreachable and a reachable one at 23,456 us), the phone's contact left out."""
    TrunkPeer = p.TrunkPeer
    assert CASES["sip_xivo"]().trunk_peers == {
        "carrier-a": TrunkPeer("ok", 0.012), "carrier-b": TrunkPeer("lagged", 1.2),
        "carrier-c": TrunkPeer("unreachable", None), "gw-fax": TrunkPeer("unmonitored", None),
        "carrier-d": TrunkPeer("unknown", None)}
    assert CASES["sip_wazo"]().trunk_peers == {"carrier-a": TrunkPeer("ok", 0.023456),
                                               "carrier-b": TrunkPeer("unreachable", None)}
    # Without the PJSIPShowContacts answer (no ACL), the trunks' state is unknown, not "unreachable".
    without = p.parse_sip(CalldSipAnswers(fx("calld_trunks.json"), fx("calld_lines.json")))
    assert without.trunk_peers is None and without.trunks == {"carrier-a": True, "carrier-b": False}
    # An Asterisk without the action answers an AMI error: the same.
    error = b'[{"Response": "Error", "Message": "Invalid/unknown command"}]'
    assert p.parse_sip(CalldSipAnswers(fx("calld_trunks.json"), fx("calld_lines.json"),
                                       contacts=error)).trunk_peers is None


def test_more_sip_trunks_than_the_cap_fail_the_table_rather_than_cut_it():
    with pytest.raises(PayloadError) as err:
        p.parse_sip(AmiSipAnswers(fx("sip_peers.json"), fx("sip_registry.json"), max_trunks=4))
    assert err.value.reason == "series_limit" and "5 SIP trunks, over max_sip_trunks (4)" in str(err.value)
    assert len(p.parse_sip(AmiSipAnswers(fx("sip_peers.json"), fx("sip_registry.json"), max_trunks=5))
               .trunk_peers) == 5


@pytest.mark.parametrize("text,expected", [("OK (12 ms)", "ok"), ("LAGGED (2100 ms)", "lagged"),
                                           ("UNREACHABLE", "unreachable"), ("Unmonitored", "unmonitored"),
                                           ("UNKNOWN", "unknown"), ("something new", "unknown"), (None, "unknown")])
def test_peer_status(text, expected):
    assert p.peer_status(text) == expected


@pytest.mark.parametrize("call,reason,message", [
    (lambda: p.parse_queue_summary(fx("ami_error.json")), "ami_error",
     "amid QueueSummary: Error: Permission denied"),
    (lambda: p.parse_queue_summary(b"{}"), "degenerate_payload", "amid QueueSummary: expected a list of AMI"),
    (lambda: p.parse_queue_summary(b"[{\"Resp"), "invalid_payload", "amid QueueSummary: malformed JSON"),
    (lambda: p.parse_agents(b'{"items": []}'), "degenerate_payload", "agentd /agents: expected a list, got dict"),
    (lambda: p.parse_objects(ObjectAnswers({"users": fx("limit_error.json")})), "degenerate_payload",
     "confd /users: no 'total' in the answer"),
    (lambda: p.parse_objects(ObjectAnswers({"users": b'{"total": "many"}'})), "invalid_payload",
     "confd /users total: expected a number, got 'many'"),
    (lambda: p.parse_devices([b'{"total": 1}']), "degenerate_payload", "confd /devices: no 'items' list"),
    (lambda: p.parse_channels(ChannelAnswers(fx("queue_summary.json"), fx("core_show_channels.json"))),
     "degenerate_payload", "amid CoreStatus: no CoreCurrentCalls"),
    (lambda: p.parse_sip(CalldSipAnswers(b"<html>", b"{}")), "invalid_payload", "calld /trunks: malformed JSON"),
])
def test_bad_answers(call, reason, message):
    with pytest.raises(PayloadError) as err:
        call()
    assert err.value.reason == reason
    assert str(err.value).startswith(message)


def test_wazo_trunks_and_lines_without_registration_have_no_registration_series():
    """calld gives registered: null for a trunk or line that does not register (IAX, custom): neither
    registered nor lost, so the registration alert must not page for it (written from xivo-api.md)."""
    trunks = (b'{"items": [{"id": 1, "name": "carrier", "technology": "sip", "registered": true, '
              b'"current_call_count": 3}, {"id": 2, "name": "iax-legacy", "technology": "iax", '
              b'"registered": null, "current_call_count": 1}, {"id": 3, "name": "down", "technology": "sip", '
              b'"registered": false, "current_call_count": 0}], "total": 3}')
    lines = (b'{"items": [{"id": 1, "registered": true}, {"id": 2, "registered": false}, '
             b'{"id": 3, "technology": "custom", "registered": null}], "total": 3}')
    sip = p.parse_sip(CalldSipAnswers(trunks, lines))
    assert sip.trunks == {"carrier": True, "down": False}
    assert sip.trunk_calls == {"carrier": 3, "iax-legacy": 1, "down": 0}
    assert sip.lines_by_state == {"registered": 1, "unregistered": 1}


def test_queue_status_values():
    """Asterisk's QueueStatus as the reference gives it (every value a string), worked out by hand: a queue
    with no answered call has no service level (Asterisk writes 0.0), unreadable values are counted, never 0."""
    rec = CASES["queue_status"]()
    assert rec.queues == (
        p.QueueParams("support", "rrmemory", 412, 23, 20, 0.813, None, 0),
        p.QueueParams("sales", "ringall", 0, 0, 60, None, None, 10),
        p.QueueParams("billing", "leastrecent", None, None, None, None, None, 0))  # "", "N/A", "20s"
    assert rec.members == (
        p.QueueMember("support", "Alice", 150, 0, None, 1764835200),
        p.QueueMember("support", "Bob", 97, 1, None, 1764834900),
        p.QueueMember("sales", "Alice", 0, 0, None, 0),
        p.QueueMember("sales", "SIP/desk-204", None, 0, None, 0))  # no name: its location; "many" calls
    assert rec.unreadable == (("CallsTaken", 1), ("Completed", 1), ("ServiceLevel", 1))  # N/A is absent
    wazo = CASES["queue_status_wazo"]()
    assert wazo.queues == (p.QueueParams("hotline", "linear", 120, 30, 30, 0.75, 0.686, 25),)
    assert wazo.members == (p.QueueMember("hotline", "Carol", 64, 0, 1, 1764835100),
                            p.QueueMember("hotline", "Dave", 56, 1, 0, 1764834000))
    text = exposition("queue_status", rec).decode()
    assert 'xivo_queue_service_level_ratio{queue="support",target="pbx-golden"} 0.813' in text
    assert 'xivo_queue_service_level_ratio{queue="sales"' not in text  # no answered call: absent, not 0
    assert 'xivo_queue_calls_completed_total{queue="billing"' not in text
    assert 'xivo_collector_unreadable_values{collector="queue_status",field="Completed",target="pbx-golden"} 1.0' \
        in text
    assert "should-never-be-seen" not in text and "lunch" not in text  # callers and pause reasons stay out


def test_queue_members_switch_and_cap():
    """Members are exported only when asked for; more than max_queue_members fails the table, as
    max_series does, rather than cutting it."""
    body = fx("queue_status.json")
    off = p.parse_queue_status(QueueStatusAnswer(body, members=False, max_members=1))
    assert off.members is None and len(off.queues) == 3
    assert "xivo_queue_member" not in exposition("queue_status", off).decode()
    assert len(p.parse_queue_status(QueueStatusAnswer(body, members=True, max_members=4)).members) == 4
    with pytest.raises(PayloadError) as err:
        p.parse_queue_status(QueueStatusAnswer(body, members=True, max_members=3))
    assert err.value.reason == "series_limit" and "more than 3 queue members (max_queue_members)" in str(err.value)


def test_queue_status_refusals():
    with pytest.raises(PayloadError) as err:
        p.parse_queue_status(QueueStatusAnswer(fx("ami_error.json")))
    assert err.value.reason == "ami_error"
    members_only = b'[{"Response": "Success"}, {"Event": "QueueMember", "Queue": "q", "Name": "A"}]'
    with pytest.raises(PayloadError) as err:
        p.parse_queue_status(QueueStatusAnswer(members_only, members=True))
    assert err.value.reason == "degenerate_payload"


def test_start_up_and_reload_times_are_read_in_the_pbxs_time_zone():
    """Asterisk writes them in local time: 08:00 in Paris in November (CET, UTC+1) is 07:00 UTC; 03:00 in
    New York the next day (EST, UTC-5) is 08:00 UTC."""
    paris = p.parse_channels(ChannelAnswers(fx("core_status.json"), fx("core_show_channels.json"), "Europe/Paris"))
    assert paris.started == datetime(2026, 11, 20, 7, 0, tzinfo=UTC).timestamp()
    assert paris.reloaded == datetime(2026, 11, 21, 2, 0, tzinfo=UTC).timestamp()
    new_york = p.parse_channels(ChannelAnswers(fx("core_status.json"), fx("core_show_channels.json"),
                                               "America/New_York"))
    assert new_york.reloaded == datetime(2026, 11, 21, 8, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("fields", [
    {},  # an Asterisk that does not say
    {"CoreStartupDate": "2026-11-20"},  # half of it
    {"CoreStartupDate": "2026-13-01", "CoreStartupTime": "08:00:00"},  # not a date
    {"CoreStartupDate": "20/11/2026", "CoreStartupTime": "8h"},
])
def test_a_start_up_time_that_is_missing_or_unreadable_is_left_out(fields):
    import json

    status = json.dumps([{"Response": "Success", "CoreCurrentCalls": "3", **fields}]).encode()
    channels = p.parse_channels(ChannelAnswers(status, fx("core_show_channels.json")))
    assert channels.current_calls == 3 and channels.started is None and channels.reloaded is None
    b = Builder()
    COLLECTORS["channels"].build(b, "pbx-1", channels)
    assert b"xivo_core_startup_timestamp_seconds" not in encode(b.families())


"""Pure functions from XiVO/Wazo answers (JSON bytes) to typed records.

A body that is not what the API documents raises PayloadError (a failed collector, never zeros).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from exporter.payload import PayloadError, degenerate, invalid, label, num, unreadable
from exporter.xivo.answers import AmiSipAnswers, CalldSipAnswers, ChannelAnswers, ObjectAnswers, QueueStatusAnswer


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"{what}: malformed JSON: {exc}") from None


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{what}: expected a number, got {str(value)[:40]!r}") from None


@dataclass(frozen=True, slots=True)
class Objects:
    totals: dict[str, int]
    unsupported: tuple[str, ...]
    lines_by_protocol: dict[str, int]


def _total(body: bytes, what: str) -> int:
    doc = _json(body, f"confd /{what}")
    if not isinstance(doc, dict) or "total" not in doc:
        raise degenerate(f"confd /{what}: no 'total' in the answer")
    return _int(doc["total"], f"confd /{what} total")


def parse_objects(answers: ObjectAnswers) -> Objects:
    totals, unsupported = {}, []
    for kind, body in answers.collections.items():
        if body is None:
            unsupported.append(kind)
        else:
            totals[kind] = _total(body, kind)
    protocols = {proto: _total(body, f"lines?protocol={proto}")
                 for proto, body in answers.lines_by_protocol.items()}
    return Objects(totals, tuple(unsupported), protocols)


@dataclass(frozen=True, slots=True)
class Devices:
    by_status: dict[str, int]
    total: int


def parse_devices(pages: list[bytes]) -> Devices:
    counts: dict[str, int] = {}
    seen: set[str] = set()
    total = 0
    for body in pages:
        doc = _json(body, "confd /devices")
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise degenerate("confd /devices: no 'items' list in the answer")
        total = _int(doc.get("total"), "confd /devices total")
        for item in doc["items"]:
            if not isinstance(item, dict):
                continue
            ident = str(item.get("id"))
            if ident in seen:  # a device added while paging shifts the next page: count it once
                continue
            seen.add(ident)
            status = label(item.get("status"), "unknown")
            counts[status] = counts.get(status, 0) + 1
    return Devices(counts, total)


@dataclass(frozen=True, slots=True)
class Agents:
    total: int
    logged_in: int
    paused: int | None  # None: this PBX reports no pause state (upstream XiVO)


def parse_agents(body: bytes) -> Agents:
    doc = _json(body, "agentd /agents")
    if not isinstance(doc, list):
        raise degenerate(f"agentd /agents: expected a list, got {type(doc).__name__}")
    agents = [a for a in doc if isinstance(a, dict)]
    has_pause = any("paused" in a for a in agents)
    return Agents(len(agents), sum(1 for a in agents if a.get("logged") is True),
                  sum(1 for a in agents if a.get("paused") is True) if has_pause else None)


def ami_events(body: bytes, action: str) -> tuple[dict, list[dict]]:
    """An amid answer: ``(response, events)``. An AMI error (permission, unknown action) is a failure."""
    doc = _json(body, f"amid {action}")
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        raise degenerate(f"amid {action}: expected a list of AMI messages")
    response = doc[0]
    if response.get("Response") != "Success":
        raise PayloadError("ami_error", f"amid {action}: {response.get('Response')}: "
                           f"{str(response.get('Message'))[:120]}")
    return response, [m for m in doc[1:] if isinstance(m, dict) and "Event" in m]


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    logged_in: int
    available: int
    callers: int
    hold_time: float
    talk_time: float
    longest_hold_time: float


def parse_queue_summary(body: bytes) -> tuple[QueueStats, ...]:
    _, events = ami_events(body, "QueueSummary")
    queues = {}
    for e in events:
        if e.get("Event") != "QueueSummary" or not e.get("Queue"):
            continue
        q = label(e["Queue"], "")
        queues.setdefault(q, QueueStats(
            q, _int(e.get("LoggedIn"), "LoggedIn"), _int(e.get("Available"), "Available"),
            _int(e.get("Callers"), "Callers"), _int(e.get("HoldTime", 0), "HoldTime"),
            _int(e.get("TalkTime", 0), "TalkTime"), _int(e.get("LongestHoldTime", 0), "LongestHoldTime")))
    return tuple(queues.values())


@dataclass(frozen=True, slots=True)
class QueueParams:
    """One queue of amid QueueStatus (its ``QueueParams`` event). None: the PBX did not give the value, or gave
    something that is not a number (counted in ``QueueStatus.unreadable``): never a zero."""

    queue: str
    strategy: str
    completed: float | None  # calls answered since the queue's last reset or reload
    abandoned: float | None  # callers who hung up waiting, same period
    service_level_seconds: float | None  # the target answer time
    service_level: float | None  # ServiceLevelPerf / 100: of the completed calls, answered within the target
    service_level_offered: float | None  # ServiceLevelPerf2 / 100: abandoned within the target count as met
    max_callers: float | None  # 0: no limit


@dataclass(frozen=True, slots=True)
class QueueMember:
    queue: str
    member: str
    calls_taken: float | None
    paused: float | None
    in_call: float | None  # newer Asterisk only
    last_call: float | None  # unix time; 0: never


@dataclass(frozen=True, slots=True)
class QueueStatus:
    queues: tuple[QueueParams, ...]
    members: tuple[QueueMember, ...] | None  # None: members not asked for (queue_members: false)
    unreadable: tuple[tuple[str, int], ...]  # (field, values present but not numbers)


def _ratio(percent: float | None, denominator: float | None) -> float | None:
    """Asterisk writes 0.0 when no call counts yet (its division is guarded): absent then, not 0% met."""
    if percent is None or not denominator:
        return None
    return round(percent / 100, 10)  # 68.6 -> 0.686, not 0.6859999999999999


def parse_queue_status(answer: QueueStatusAnswer) -> QueueStatus:
    """amid QueueStatus: a ``QueueParams`` event per queue, a ``QueueMember`` per member of each, a
    ``QueueEntry`` per caller waiting (not read: callers are already counted by QueueSummary). Every value
    is a string; one that is not a number is left out and counted."""
    _, events = ami_events(answer.body, "QueueStatus")
    bad: dict[str, int] = {}

    def number(e: dict, field: str) -> float | None:
        text = e.get(field)
        value = num(text) if isinstance(text, str) else None
        if value is None and isinstance(text, str) and unreadable(text):
            bad[field] = bad.get(field, 0) + 1
        return value

    queues: dict[str, QueueParams] = {}
    members: dict[tuple[str, str], QueueMember] = {}
    member_events = 0
    for e in events:
        kind = e.get("Event")
        queue = label(e.get("Queue"), "")
        if not queue:
            continue
        if kind == "QueueParams" and queue not in queues:
            completed, abandoned = number(e, "Completed"), number(e, "Abandoned")
            offered = None if completed is None or abandoned is None else completed + abandoned
            queues[queue] = QueueParams(
                queue, label(e.get("Strategy"), "unknown"), completed, abandoned, number(e, "ServiceLevel"),
                _ratio(number(e, "ServiceLevelPerf"), completed),
                _ratio(number(e, "ServiceLevelPerf2"), offered) if "ServiceLevelPerf2" in e else None,
                number(e, "Max"))
        elif kind == "QueueMember":
            member_events += 1
            if not answer.members:
                continue
            if member_events > answer.max_members:
                raise PayloadError("series_limit", f"queue_status: more than {answer.max_members} queue members "
                                   "(max_queue_members); the table is dropped rather than cut")
            # Asterisk 12+ names the member "Name" in QueueStatus ("MemberName" in the member events); the
            # interface stands in for a member without a name.
            name = label(e.get("Name") or e.get("MemberName") or e.get("Location") or e.get("Interface"),
                         "unknown")
            members.setdefault((queue, name), QueueMember(
                queue, name, number(e, "CallsTaken"), number(e, "Paused"),
                number(e, "InCall") if "InCall" in e else None, number(e, "LastCall")))
    if not queues and member_events:
        raise degenerate("amid QueueStatus: members but no QueueParams event")
    return QueueStatus(tuple(queues.values()), tuple(members.values()) if answer.members else None,
                       tuple(sorted(bad.items())))


@dataclass(frozen=True, slots=True)
class Channels:
    current_calls: int
    by_state: dict[str, int]
    started: float | None = None  # Unix time Asterisk started (None: not in the answer, or unreadable)
    reloaded: float | None = None  # and last reloaded its configuration


def core_time(status: dict, prefix: str, timezone: str) -> float | None:
    """amid CoreStatus ``<prefix>Date`` (``2026-11-20``) and ``<prefix>Time`` (``08:00:00``), written in the
    PBX's local time, as Unix time; None when either is missing or not a date and time."""
    date, time_ = status.get(f"{prefix}Date"), status.get(f"{prefix}Time")
    if not isinstance(date, str) or not isinstance(time_, str):
        return None
    try:
        local = datetime.strptime(f"{date.strip()} {time_.strip()}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=zone(timezone)).timestamp()


def zone(name: str) -> tzinfo:
    """An IANA time zone (``Europe/Paris``); UTC without the time zone database."""
    return UTC if name == "UTC" else ZoneInfo(name)


def parse_channels(answers: ChannelAnswers) -> Channels:
    status, _ = ami_events(answers.core_status, "CoreStatus")
    if "CoreCurrentCalls" not in status:
        raise degenerate("amid CoreStatus: no CoreCurrentCalls")
    _, events = ami_events(answers.core_show_channels, "CoreShowChannels")
    states: dict[str, int] = {}
    for e in events:
        if e.get("Event") == "CoreShowChannel":
            state = label(e.get("ChannelStateDesc"), "unknown")
            states[state] = states.get(state, 0) + 1
    tz = answers.timezone
    return Channels(_int(status["CoreCurrentCalls"], "CoreCurrentCalls"), states,
                    core_time(status, "CoreStartup", tz), core_time(status, "CoreReload", tz))


PEER_STATUSES = ("ok", "lagged", "unreachable", "unknown", "unmonitored")
_PEER_STATUS = re.compile(r"^\s*(OK|LAGGED|UNREACHABLE|UNKNOWN|Unmonitored)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TrunkPeer:
    """A SIP trunk's reachability as Asterisk's qualify (OPTIONS pings) sees it."""

    status: str  # one of PEER_STATUSES
    rtt: float | None  # the last qualify's round trip, seconds; None when not measured


@dataclass(frozen=True, slots=True)
class Sip:
    peers_by_status: dict[str, int] | None  # chan_sip (XiVO)
    trunks: dict[str, bool]  # trunk -> registered
    trunk_calls: dict[str, int]  # Wazo calld current_call_count
    lines_by_state: dict[str, int] | None  # Wazo calld lines: registered / unregistered
    generation: str | None = None  # xivo or wazo, as detected (or configured)
    # Each SIP trunk's qualify state. XiVO: chan_sip peers with a configured host (Dynamic: no; phones
    # register, so they are dynamic). Wazo: calld's SIP trunks, from their PJSIP contacts. None: not known
    # (Wazo without the PJSIPShowContacts ACL).
    trunk_peers: dict[str, TrunkPeer] | None = None


_RTT_MS = re.compile(r"\(\s*(\d+(?:\.\d+)?)\s*ms\s*\)")


def peer_status(text: str | None) -> str:
    """``OK (12 ms)`` -> ok, ``LAGGED (2100 ms)`` -> lagged, anything unknown -> unknown."""
    m = _PEER_STATUS.match(text or "")
    return m.group(1).lower() if m else "unknown"


def peer_rtt(text: str | None) -> float | None:
    """``OK (12 ms)`` -> 0.012 s, ``LAGGED (1200 ms)`` -> 1.2 s; None without a round trip."""
    m = _RTT_MS.search(text or "")
    return float(m.group(1)) / 1000 if m else None


# PJSIP contact statuses (PJSIPShowContacts ContactList Status) in chan_sip's words; Reachable beats the
# others when a trunk has several contacts.
CONTACT_STATUSES = {"reachable": "ok", "unreachable": "unreachable", "nonqualified": "unmonitored",
                    "unqualified": "unmonitored", "unknown": "unknown"}
_STATUS_RANK = ("ok", "lagged", "unreachable", "unmonitored", "unknown")


def _capped(peers: dict[str, TrunkPeer], limit: int) -> dict[str, TrunkPeer]:
    if len(peers) > limit:
        raise PayloadError("series_limit", f"sip: {len(peers)} SIP trunks, over max_sip_trunks ({limit}); "
                           "raise it (each trunk is 6 series)")
    return peers


def _chan_sip_trunks(peers: list[dict], limit: int) -> dict[str, TrunkPeer]:
    out = {}
    for e in peers:
        if e.get("Event") == "PeerEntry" and str(e.get("Dynamic", "")).strip().lower() == "no":
            name = label(e.get("ObjectName"), "")
            if name:
                out[name] = TrunkPeer(peer_status(e.get("Status")), peer_rtt(e.get("Status")))
    return _capped(out, limit)


def _pjsip_trunks(names: list[str], contacts: bytes | None, limit: int) -> dict[str, TrunkPeer] | None:
    if contacts is None:
        return None
    try:
        _, events = ami_events(contacts, "PJSIPShowContacts")
    except PayloadError:  # an Asterisk without the action: the trunks' qualify state is not known
        return None
    seen: dict[str, list[tuple[str, float | None]]] = {}
    for e in events:
        if e.get("Event") == "ContactList":
            status = CONTACT_STATUSES.get(str(e.get("Status", "")).strip().lower(), "unknown")
            usec = num(e.get("RoundtripUsec"))
            seen.setdefault(str(e.get("Endpoint", "")).strip(), []).append(
                (status, usec / 1e6 if usec is not None and status == "ok" else None))
    out = {}
    for name in names:
        found = sorted(seen.get(name, [("unknown", None)]), key=lambda c: (_STATUS_RANK.index(c[0]), c[1] or 0))
        out[name] = TrunkPeer(*found[0])  # the best contact: reachable, and the fastest of those
    return _capped(out, limit)


def parse_sip(answers: AmiSipAnswers | CalldSipAnswers) -> Sip:
    generation = answers.generation if answers.generation in ("xivo", "wazo") else None
    if isinstance(answers, AmiSipAnswers):
        _, peers = ami_events(answers.sip_peers, "SIPpeers")
        by_status = dict.fromkeys(PEER_STATUSES, 0)
        for e in peers:
            if e.get("Event") == "PeerEntry":
                by_status[peer_status(e.get("Status"))] += 1
        _, regs = ami_events(answers.sip_registry, "SIPshowregistry")
        trunks = {}
        for e in regs:
            if e.get("Event") == "RegistryEntry" and e.get("Host"):
                name = label(f"{e.get('Username') or ''}@{e['Host']}".lstrip("@"), "")
                trunks[name] = str(e.get("State", "")).lower() == "registered"
        return Sip(by_status, trunks, {}, None, generation, _chan_sip_trunks(peers, answers.max_trunks))
    trunks, calls, sip_trunks = {}, {}, []
    for item in _calld_items(answers.trunks, "trunks"):
        name = label(str(item.get("name") or item.get("id") or ""), "")
        if name and str(item.get("technology", "")).lower() == "sip":
            sip_trunks.append(name)
        if name:
            # registered: null is a trunk with no registration at all (IAX, custom): no registration series,
            # so "registration lost" never pages for it.
            if isinstance(item.get("registered"), bool):
                trunks[name] = item["registered"]
            if isinstance(item.get("current_call_count"), int):
                calls[name] = item["current_call_count"]
    lines = {"registered": 0, "unregistered": 0}
    for item in _calld_items(answers.lines, "lines"):
        if isinstance(item.get("registered"), bool):  # null: a line with no registration (custom)
            lines["registered" if item["registered"] else "unregistered"] += 1
    return Sip(None, trunks, calls, lines, generation,
               _pjsip_trunks(sip_trunks, answers.contacts, answers.max_trunks))


def _calld_items(body: bytes, what: str) -> list[dict]:
    doc = _json(body, f"calld /{what}")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise degenerate(f"calld /{what}: no 'items' list in the answer")
    return [i for i in doc["items"] if isinstance(i, dict)]

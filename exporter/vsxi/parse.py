"""Pure functions from a stats answer (bytes, XML or JSON) to typed records.

Each raises ``payload.PayloadError`` when the answer cannot be trusted (degenerate or malformed): a failed
collector, never zeros. Fields the exporter does not know are kept in ``Unmapped`` so they stay visible.
Facts marked [assumed] follow ``docs/device-apis.md``: nobody has published those fields.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable

from exporter.payload import ABSENT, EmptyAnswer, degenerate, label, num, unreadable
from exporter.vsxi import records as r
from exporter.vsxi.wire import Body, Row, iter_bean_columns, iter_beans, read_mysqldump

MAX_UNMAPPED_VALUES = 500  # per answer: bounds the generic series a strange firmware can create


def _numeric(row: Row, fields: Iterable[str], sink: _UnmappedSink) -> dict[str, float]:
    out = {}
    for f in fields:
        text = row.get(f)
        if text is not None:
            v = num(text)
            if v is not None:
                out[f] = v
            elif unreadable(text):
                sink.unreadable[f] += 1
    return out


def _numbers(row: Row, fields: tuple[str, ...], sink: _UnmappedSink) -> list[float | None]:
    """``num`` of each field, in order (None where absent or unreadable, the unreadable counted). Runs for
    every window of every trunk: the common case, every value a number, is one comprehension."""
    get = row.get
    values = [num(get(f)) for f in fields]
    if None in values:
        for f, v in zip(fields, values, strict=True):
            if v is None and unreadable(get(f)):
                sink.unreadable[f] += 1
    return values


@functools.cache
def _by_lower(known: frozenset[str]) -> dict[str, str]:
    return {k.lower(): k for k in known}


class _UnmappedSink:
    """Collects the fields no mapping consumed, and the known fields whose value could not be read."""

    def __init__(self) -> None:
        self.names: set[tuple[str, str]] = set()
        self.values: dict[tuple[str, str, str], r.UnmappedField] = {}
        self.unreadable: Counter[str] = Counter()

    def num(self, row: Row, field: str) -> float | None:
        text = row.get(field)
        v = num(text)
        if v is None and unreadable(text):
            self.unreadable[field] += 1
        return v

    @staticmethod
    def canonical(row: Row, known: frozenset[str]) -> Row:
        """Field names as the reference spells them: another firmware's ``TrunkId`` or ``NUMORIG`` is the
        same field (the reference never tells two fields apart by case). Costs one set difference."""
        unknown = row.keys() - known
        if unknown:
            lower = _by_lower(known)
            for f in unknown:
                c = lower.get(f.lower())
                if c is not None and c not in row:
                    row[c] = row.pop(f)
        return row

    def names_only(self, section: str, row: Row, known: frozenset[str]) -> None:
        for f in row.keys() - known:
            self.names.add((section, f))

    def add(self, section: str, row: Row, known: frozenset[str], row_key: str | int) -> None:
        """``row_key`` is the row's label, or its position to derive one from the row (only when a field is
        unmapped: the common case costs one set difference)."""
        unknown = row.keys() - known
        if not unknown:
            return
        if isinstance(row_key, int):
            row_key = _row_key(row, row_key)
        for f in unknown:
            self.names.add((section, f))
            v = num(row[f])
            key = (section, f, row_key)
            if v is not None and key not in self.values and len(self.values) < MAX_UNMAPPED_VALUES:
                self.values[key] = r.UnmappedField(section, f, row_key, v)

    def result(self) -> r.Unmapped:
        return r.Unmapped(frozenset(self.names), tuple(self.values.values()), tuple(sorted(self.unreadable.items())))

    def unmapped_names(self, section: str, names: set[str], known: frozenset[str]) -> None:
        lower = _by_lower(known)
        self.names.update((section, f) for f in names - known if f.lower() not in lower)


def _row_key(row: Row, index: int) -> str:
    parts = [row[k] for k in ("trunkId", "trunk_id", "orig_tid", "term_tid", "fqdn") if row.get(k)]
    if not parts and row.get("id"):
        parts = [row["id"]]
    return label("/".join(parts), str(index)) if parts else str(index)


def _unknown_tables(tables: dict[str, list[Row]], known: set[str], sink: _UnmappedSink) -> None:
    for name, rows in tables.items():
        if name not in known:
            for i, row in enumerate(rows):
                sink.add(name, row, frozenset(), i)


# --- stats/realtime ---------------------------------------------------------------------------------------

SYSTEM_NUMERIC = (
    "sum_active_session", "sum_attempt_session", "peak_active_session", "max_session_allowed",
    "max_session_exceed", "inbound_sip_leg", "outbound_sip_leg", "peak_sip_leg", "inbound_h323_leg",
    "outbound_h323_leg", "peak_h323_leg", "cpu_idle_percent", "flow_control_lev", "cluster_active_session",
    "cluster_peak_session", "demo_lic", "slave_stat", "ha_remote_status", "ha_local_status",
    "switch_over_flag", "max_cps_allowed", "max_cps_exceed", "current_cps",
)
SYSTEM_KNOWN = frozenset((*SYSTEM_NUMERIC, "id", "ha_pre_state", "ha_current_state"))
TRUNK_RT_NUMERIC = ("numOrig", "numTerm", "cps", "numPeak", "totalCLZ", "numCLZCps", "totalLimit", "cpsLimit")
TRUNK_RT_KNOWN = frozenset((*TRUNK_RT_NUMERIC, "trunkId", "fqdn"))
# [assumed] gw_realtime_stat has only been seen empty.
GW_RT_NUMERIC = ("num_active_session", "peak_active_session", "active_cps")
GW_RT_KNOWN = frozenset((*GW_RT_NUMERIC, "orig_tid", "term_tid", "orig_ip", "term_ip", "id"))


def _ha_state(text: str | None) -> str | None:
    """``Active``, ``STANDBY`` and ``active`` are one state: one label value, so the HA alerts match."""
    return label(text, "").lower() or None


def parse_realtime(body: Body) -> r.Realtime:
    tables = read_mysqldump(body)
    rows = tables.get("system_stat")
    if rows is None:
        raise degenerate(f"table system_stat missing from realtime (tables: {', '.join(sorted(tables)) or '-'})")
    if not rows:
        raise degenerate("table system_stat has no row")
    sink = _UnmappedSink()
    sys_row = sink.canonical(rows[0], SYSTEM_KNOWN)
    sink.add("system_stat", sys_row, SYSTEM_KNOWN, "0")
    system = r.SystemStat(
        values=_numeric(sys_row, SYSTEM_NUMERIC, sink),
        ha_current_state=_ha_state(sys_row.get("ha_current_state")),
        ha_pre_state=_ha_state(sys_row.get("ha_pre_state")),
    )
    duplicates = len(rows) - 1

    trunks: dict[tuple[str, str], r.TrunkRealtime] = {}
    for i, row in enumerate(tables.get("XBResourceRealTimeStatList", [])):
        row = sink.canonical(row, TRUNK_RT_KNOWN)
        key = (label(row.get("trunkId"), ""), label(row.get("fqdn"), ""))
        if not key[0]:
            sink.add("XBResourceRealTimeStatList", row, frozenset(), str(i))
            continue
        if key in trunks:
            duplicates += 1
            continue
        sink.add("XBResourceRealTimeStatList", row, TRUNK_RT_KNOWN, i)
        trunks[key] = r.TrunkRealtime(key[0], key[1], _numeric(row, TRUNK_RT_NUMERIC, sink))

    gateways: dict[tuple[str, str], r.GatewayRealtime] = {}
    for i, row in enumerate(tables.get("gw_realtime_stat", [])):
        row = sink.canonical(row, GW_RT_KNOWN)
        key = (label(row.get("orig_tid"), "none"), label(row.get("term_tid"), "none"))
        if key in gateways:
            duplicates += 1
            continue
        sink.add("gw_realtime_stat", row, GW_RT_KNOWN, i)
        gateways[key] = r.GatewayRealtime(key[0], key[1], _numeric(row, GW_RT_NUMERIC, sink))

    _unknown_tables(tables, {"system_stat", "XBResourceRealTimeStatList", "gw_realtime_stat"}, sink)
    return r.Realtime(system, tuple(trunks.values()), tuple(gateways.values()), sink.result(), duplicates)


# --- stats/resource ---------------------------------------------------------------------------------------

RESOURCE_TABLES = {"ingress_stat": "ingress", "gw_egress_stat": "egress"}
WINDOWS = (("1st15mins_", "15m"), ("1h_", "1h"), ("24h_", "24h"))
WINDOW_FIELDS = ("call_attempt", "call_answer", "call_fail", "call_durationSec", "pdd_ms")
WINDOW_KEYS = tuple((window, tuple(prefix + f for f in WINDOW_FIELDS)) for prefix, window in WINDOWS)
RESOURCE_KNOWN = frozenset(
    ["id", "trunk_id", "alias"] + [p + f for p, _ in WINDOWS for f in WINDOW_FIELDS]
)


def parse_resource(body: Body) -> r.Resource:
    tables = read_mysqldump(body)
    if not any(t in tables for t in RESOURCE_TABLES):
        raise degenerate(
            f"tables ingress_stat and gw_egress_stat missing from resource "
            f"(tables: {', '.join(sorted(tables)) or '-'})"
        )
    sink = _UnmappedSink()
    windows: dict[tuple[str, str, str], r.TrunkWindow] = {}
    aliases: dict[str, str] = {}
    duplicates = 0
    for table, direction in RESOURCE_TABLES.items():
        for i, row in enumerate(tables.get(table, [])):
            row = sink.canonical(row, RESOURCE_KNOWN)
            trunk = label(row.get("trunk_id"), "")
            if not trunk:
                sink.add(table, row, frozenset(), str(i))
                continue
            sink.add(table, row, RESOURCE_KNOWN, i)
            if row.get("alias"):
                aliases.setdefault(trunk, label(row["alias"], ""))
            for window, keys in WINDOW_KEYS:
                key = (trunk, direction, window)
                if key in windows:
                    duplicates += 1
                    continue
                v = _numbers(row, keys, sink)
                windows[key] = r.TrunkWindow(
                    trunk, direction, window, v[0], v[1], v[2], v[3],
                    v[4] / 1000 if v[4] is not None else None,
                )
    _unknown_tables(tables, set(RESOURCE_TABLES), sink)
    return r.Resource(tuple(windows.values()), aliases, sink.result(), duplicates // len(WINDOWS))


# --- stats/media_server -----------------------------------------------------------------------------------

MEDIA_KNOWN = frozenset(
    ("mediaSrvIndex", "alias", "switchType", "publicIP", "priority", "maxConnections", "numActiveSessions",
     "status")
)


def parse_media_server(body: Body) -> r.MediaServers:
    sink = _UnmappedSink()
    servers: dict[str, r.MediaServer] = {}
    duplicates = 0
    for i, row in enumerate(iter_beans(body, "XBMediaServerRealTimeStatList")):
        row = sink.canonical(row, MEDIA_KNOWN)
        index = label(row.get("mediaSrvIndex"), "")
        if not index:
            sink.add("XBMediaServerRealTimeStat", row, frozenset(), str(i))
            continue
        if index in servers:
            duplicates += 1
            continue
        sink.add("XBMediaServerRealTimeStat", row, MEDIA_KNOWN, index)
        servers[index] = r.MediaServer(
            index=index,
            alias=label(row.get("alias"), ""),
            switch_type=label(row.get("switchType"), ""),
            status=label(row.get("status"), "unknown"),
            priority=sink.num(row, "priority"),
            max_connections=sink.num(row, "maxConnections"),
            active_sessions=sink.num(row, "numActiveSessions"),
        )
    return r.MediaServers(tuple(servers.values()), sink.result(), duplicates)


# --- stats/sub_stats --------------------------------------------------------------------------------------

SUB_KNOWN = frozenset(
    ("id", "username", "userDomain", "userIp", "userPort", "states", "nat", "trunkId", "spid", "protocol",
     "expiration", "createTime", "agent", "contact", "pn-param")
)


def parse_sub_stats(body: Body) -> r.Registrations:
    names: set[str] = set()
    rows = iter_bean_columns(body, "XBSubStatsList", ("trunkId", "states", "protocol", "nat"), names)
    raw_counts = Counter(rows)  # counted in C: a few distinct (trunk, state, protocol, nat) among many rows
    counts: dict[tuple[str, str, str], int] = {}
    nat: dict[str, int] = {}
    for (trunk, state, protocol, behind_nat), n in raw_counts.items():
        key = (label(trunk, "none"), label(state, "unknown"), label(protocol, "unknown"))
        counts[key] = counts.get(key, 0) + n
        if (behind_nat or "").lower() == "yes":
            nat[key[0]] = nat.get(key[0], 0) + n
    sink = _UnmappedSink()
    sink.unmapped_names("XBSubStats", names, SUB_KNOWN)
    return r.Registrations(counts, nat, sum(raw_counts.values()), sink.result())


# --- stats/active_calls -----------------------------------------------------------------------------------

CALL_KNOWN = frozenset(
    ("ssm_index", "callID", "orig_tid", "term_tid", "orig_ip", "term_ip", "ani", "dnis", "inv_time", "ans_time",
     "duration")
)
DURATION_BOUNDS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0)
# [assumed] no answer yet: "", "0", "0000-00-00 00:00:00", or a missing-value marker (payload.ABSENT).
_UNANSWERED = re.compile(r"^[0\s:/.-]*$")
_CLOCK = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)$")  # H:MM:SS or MM:SS


def call_seconds(text: str | None) -> float | None:
    """A call duration in seconds: a number of seconds (the reference), or ``HH:MM:SS`` / ``MM:SS`` as other
    firmware writes it."""
    value = num(text)
    if value is None and text is not None:
        m = _CLOCK.match(text.strip())
        if m:
            value = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    return value


def parse_active_calls(body: Body) -> r.ActiveCalls:
    names: set[str] = set()
    rows = iter_bean_columns(body, "XBActiveCallsList", ("orig_tid", "term_tid", "ans_time", "duration"), names)
    pairs: dict[tuple[str | None, str | None], list[int]] = {}
    durations: Counter[str | None] = Counter()
    total = 0
    for orig, term, ans_time, duration in rows:
        total += 1
        entry = pairs.get((orig, term))
        if entry is None:
            entry = pairs[(orig, term)] = [0, 0]
        entry[0] += 1
        if ans_time is not None and not _UNANSWERED.match(ans_time) and ans_time.strip().lower() not in ABSENT:
            entry[1] += 1
        durations[duration] += 1
    buckets = [0] * (len(DURATION_BOUNDS) + 1)
    duration_sum = 0.0
    sink = _UnmappedSink()
    for text, n in durations.items():  # distinct durations only: seconds repeat among thousands of calls
        duration = call_seconds(text)
        if duration is not None and duration >= 0:
            buckets[bisect_left(DURATION_BOUNDS, duration)] += n
            duration_sum += duration * n
        else:  # no duration: in +Inf only, as documented (the count stays the number of calls)
            buckets[-1] += n
            if unreadable(text):  # and one that is there but unreadable is counted as such
                sink.unreadable["duration"] += n
    cumulative, running = [], 0
    for bound, n in zip((*DURATION_BOUNDS, math.inf), buckets, strict=True):
        running += n
        cumulative.append((bound, running))
    labelled: dict[tuple[str, str], tuple[int, int]] = {}
    for (orig, term), (calls, answered) in pairs.items():
        key = (label(orig, "none"), label(term, "none"))
        before = labelled.get(key, (0, 0))
        labelled[key] = (before[0] + calls, before[1] + answered)
    sink.unmapped_names("XBActiveCall", names, CALL_KNOWN)
    return r.ActiveCalls(labelled, tuple(cumulative), duration_sum, total, sink.result())


# --- stats/resource_detail [assumed] ----------------------------------------------------------------------

DETAIL_NUMERIC = TRUNK_RT_NUMERIC
DETAIL_KNOWN = frozenset((*DETAIL_NUMERIC, "trunkId", "trunk_id", "fqdn"))


def _tables_or_none(body: Body) -> dict[str, list[Row]]:
    """[assumed] tables whose rows come and go: an idle SBC, or an HA standby answering 200, may send nothing
    at all (no body, ``{}``, ``""``, a database without tables). That is zero rows, not a failed table:
    ``vsxi_standby`` and the HA state say why."""
    try:
        return read_mysqldump(body)
    except EmptyAnswer:
        return {}


def parse_resource_detail(body: Body) -> r.ResourceDetail:
    """[assumed] mysqldump family with per-trunk, per-node rows named like XBResourceRealTimeStatList.
    Rows without a trunk id, and every field not in that shape, go to the generic unmapped form."""
    tables = _tables_or_none(body)
    sink = _UnmappedSink()
    rows: dict[tuple[str, str], r.ResourceDetailRow] = {}
    duplicates = 0
    for name, table_rows in tables.items():
        for i, row in enumerate(table_rows):
            row = sink.canonical(row, DETAIL_KNOWN)
            trunk = label(row.get("trunkId") or row.get("trunk_id"), "")
            values = _numeric(row, DETAIL_NUMERIC, sink)
            if not trunk or not values:
                sink.add(name, row, frozenset(), i)
                continue
            key = (trunk, label(row.get("fqdn"), ""))
            if key in rows:
                duplicates += 1
                continue
            sink.add(name, row, DETAIL_KNOWN, i)
            rows[key] = r.ResourceDetailRow(key[0], key[1], values)
    return r.ResourceDetail(tuple(rows.values()), len(tables), sink.result(), duplicates)


# --- stats/sip_stats [assumed] ----------------------------------------------------------------------------

_METHODS = "INVITE|ACK|BYE|CANCEL|OPTIONS|REGISTER|PRACK|SUBSCRIBE|NOTIFY|PUBLISH|INFO|REFER|MESSAGE|UPDATE"
_MESSAGE = rf"(?P<msg>{_METHODS}|[1-6]xx|[1-6]\d\d)"
_DIRECTION = r"(?P<dir>in|inbound|rx|recv|received|out|outbound|tx|sent)"
_SIP_FIELD = (
    re.compile(rf"^{_DIRECTION}[_-]?{_MESSAGE}$", re.IGNORECASE),
    re.compile(rf"^{_MESSAGE}[_-]?{_DIRECTION}$", re.IGNORECASE),
)
_INBOUND = {"in", "inbound", "rx", "recv", "received"}


def sip_field(name: str) -> tuple[str, str] | None:
    """``in_INVITE`` -> ("inbound", "INVITE"); ``out2xx`` -> ("outbound", "2xx"); otherwise None."""
    for pattern in _SIP_FIELD:
        m = pattern.match(name)
        if m:
            direction = "inbound" if m.group("dir").lower() in _INBOUND else "outbound"
            return direction, m.group("msg").upper().replace("XX", "xx")
    return None


def parse_sip_stats(body: Body) -> r.SipStats:
    """[assumed] mysqldump family whose columns count SIP messages by direction and method / response.
    Columns named like ``in_INVITE``/``out_4xx`` are mapped; everything else is exposed generically. Several
    rows (one per service port, say) are summed: the counters are the node's."""
    tables = _tables_or_none(body)
    sink = _UnmappedSink()
    totals: dict[tuple[str, str], float] = {}
    for name, table_rows in tables.items():
        for i, row in enumerate(table_rows):
            consumed = {"id"}
            for f in row:
                mapped = sip_field(f)
                if mapped is None:
                    continue
                consumed.add(f)
                v = sink.num(row, f)
                if v is not None:
                    totals[mapped] = totals.get(mapped, 0.0) + v
            sink.add(name, row, frozenset(consumed), i)
    messages = tuple(r.SipMessage(direction, message, v) for (direction, message), v in totals.items())
    return r.SipStats(messages, len(tables), sink.result())

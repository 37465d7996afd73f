"""VSXi metrics: the catalog, and pure functions from parsed records to metric families.

Device values come from a background poll (the SBC is slow and fragile, see the reference): HELP names the
stats table and field. Names in the contract of the issue (vsxi_up, vsxi_trunk_active_sessions, ...) must not
change: dashboards and alerts use them.
"""

from __future__ import annotations

from collections.abc import Callable

from exporter.families import Builder, Catalog, Chunk
from exporter.vsxi import records as r
from exporter.vsxi.parse import PARSERS

C = Catalog(order=1)  # exposition order: VSXi first, then XiVO
T = ("target",)
TC = ("target", "collector")

# --- status, per target and collector (built by the engine) -----------------------------------------------
UP = C.gauge("vsxi_up", T, "1 when the last poll round of the VSXi authenticated and got at least one table.",
             "status")
TARGET_INFO = C.gauge("vsxi_target_info", ("target", "ha_group"),
                      "The SBC's HA pair as configured (ha_group), value 1; join on target to compare the two "
                      "nodes of a pair.", "status")
STANDBY = C.gauge("vsxi_standby", T, "1 when the last poll round was refused with HTTP 402 (node in "
                  "Load-Balance Slave mode: the HA standby serves no stats).", "status")
COLLECTOR_SUCCESS = C.gauge("vsxi_collector_success", TC,
                            "1 when the last poll of this stats table was fetched and parsed.", "status")
COLLECTOR_LAST_SUCCESS = C.gauge("vsxi_collector_last_success_timestamp_seconds", TC,
                                 "Unix time of the last successful poll of this stats table; its series are "
                                 "dropped when older than 3 poll intervals.", "status")
COLLECTOR_DURATION = C.gauge("vsxi_collector_duration_seconds", TC,
                             "Duration of the last poll of this stats table (requests, retries and parsing).",
                             "status")
COLLECTOR_BYTES = C.gauge("vsxi_collector_response_bytes", TC,
                          "Size of the last answer for this stats table.", "status")
COLLECTOR_UNMAPPED = C.gauge("vsxi_collector_unmapped_fields", TC,
                             "Distinct fields of the last answer that the exporter has no mapping for "
                             "(a firmware with other fields, or a table whose fields were assumed).", "status")
COLLECTOR_DUPLICATES = C.gauge("vsxi_collector_duplicate_rows", TC,
                               "Rows repeated in the last answer (seen during HA failover); the first is kept.",
                               "status")
COLLECTOR_FALLBACK = C.gauge("vsxi_collector_json_fallback", TC,
                             "1 when JSON is configured but this table is polled as XML because the device "
                             "answered 500 'convert xml2json failed(JAXB)'.", "status")
UNMAPPED_VALUE = C.gauge("vsxi_unmapped_field_value", ("target", "collector", "section", "field", "row"),
                         "Numeric value of a field the exporter has no mapping for, as read: section is the "
                         "table inside the answer, row its key fields (trunk id, fqdn) or position.", "status")
UNREADABLE = C.gauge("vsxi_collector_unreadable_values", ("target", "collector", "field"),
                     "Values of a known numeric field in the last answer that are present but no number the "
                     "exporter reads (true, 12 kB): those rows lack that field's series. Absent when all "
                     "read.", "status")

# --- stats/realtime: system_stat --------------------------------------------------------------------------
SYS = "realtime"
SYSTEM_GAUGES: dict[str, tuple] = {}


def _system(field: str, name: str, help_: str, scale: float = 1.0):
    spec = C.gauge(name, T, f"{help_} (stats/realtime system_stat.{field}).", SYS)
    SYSTEM_GAUGES[field] = (spec, scale)
    return spec


_system("sum_active_session", "vsxi_system_active_sessions", "Active sessions on this node")
_system("peak_active_session", "vsxi_system_peak_active_sessions", "Peak active sessions since restart")
_system("max_session_allowed", "vsxi_system_session_limit", "Licensed session limit")
_system("max_session_exceed", "vsxi_system_session_limit_exceeded",
        "Sessions refused over the licensed limit, as reported")
_system("cpu_idle_percent", "vsxi_system_cpu_idle_ratio", "CPU idle ratio, 0-1", 0.01)
_system("flow_control_lev", "vsxi_system_flow_control_level", "Flow control level (0 = none)")
_system("cluster_active_session", "vsxi_cluster_active_sessions", "Active sessions of the HA cluster")
_system("cluster_peak_session", "vsxi_cluster_peak_active_sessions", "Peak active sessions of the HA cluster")
_system("demo_lic", "vsxi_system_demo_licence", "Demo licence indicator (-1 = none)")
_system("current_cps", "vsxi_system_calls_per_second", "Current call attempts per second")
_system("max_cps_allowed", "vsxi_system_cps_limit", "Licensed calls-per-second limit")
_system("max_cps_exceed", "vsxi_system_cps_limit_exceeded", "Call attempts over the CPS limit, as reported")
_system("slave_stat", "vsxi_ha_slave_status", "HA slave status code, raw")
_system("ha_local_status", "vsxi_ha_local_status", "HA local status code (0 = healthy)")
_system("ha_remote_status", "vsxi_ha_remote_status", "HA remote node status code (0 = healthy)")
_system("switch_over_flag", "vsxi_ha_switch_over_flag", "HA switch-over flag (3 = normal)")
SESSION_ATTEMPTS = C.counter("vsxi_system_session_attempts_total", T,
                             "Session attempts since the node started (stats/realtime "
                             "system_stat.sum_attempt_session).", SYS)
CALL_LEGS = C.gauge("vsxi_system_call_legs", ("target", "protocol", "direction"),
                    "Active call legs (stats/realtime system_stat.{inbound,outbound}_{sip,h323}_leg).", SYS)
PEAK_CALL_LEGS = C.gauge("vsxi_system_peak_call_legs", ("target", "protocol"),
                         "Peak call legs (stats/realtime system_stat.peak_{sip,h323}_leg).", SYS)
HA_STATES = ("active", "standby", "standalone", "oos", "boot")
HA_STATE = C.gauge("vsxi_ha_state", ("target", "state"),
                   "1 for the current HA state, 0 for the other known states (stats/realtime "
                   "system_stat.ha_current_state).", SYS)
HA_PREVIOUS_STATE = C.gauge("vsxi_ha_previous_state", ("target", "state"),
                            "1 for the previous HA state (stats/realtime system_stat.ha_pre_state).", SYS)

# --- stats/realtime: XBResourceRealTimeStatList and gw_realtime_stat ---------------------------------------
TF = ("target", "trunk_id", "fqdn")
TRUNK_ACTIVE = C.gauge("vsxi_trunk_active_sessions", (*TF, "direction"),
                       "Active sessions of a trunk, ingress = numOrig, egress = numTerm; fqdn 'Group' is the "
                       "trunk group row (stats/realtime XBResourceRealTimeStatList).", SYS)
TRUNK_GAUGES = {
    "numPeak": C.gauge("vsxi_trunk_peak_active_sessions", TF,
                       "Peak active sessions (stats/realtime XBResourceRealTimeStatList.numPeak).", SYS),
    "totalLimit": C.gauge("vsxi_trunk_session_limit", TF,
                          "Session limit (stats/realtime XBResourceRealTimeStatList.totalLimit).", SYS),
    "cps": C.gauge("vsxi_trunk_calls_per_second", TF,
                   "Call attempts per second (stats/realtime XBResourceRealTimeStatList.cps).", SYS),
    "cpsLimit": C.gauge("vsxi_trunk_cps_limit", TF,
                        "Calls-per-second limit (stats/realtime XBResourceRealTimeStatList.cpsLimit).", SYS),
    "totalCLZ": C.gauge("vsxi_trunk_clz_sessions", TF,
                        "CLZ sessions, as reported (stats/realtime XBResourceRealTimeStatList.totalCLZ).", SYS),
    "numCLZCps": C.gauge("vsxi_trunk_clz_calls_per_second", TF,
                         "CLZ calls per second, as reported (stats/realtime "
                         "XBResourceRealTimeStatList.numCLZCps).", SYS),
}
GP = ("target", "orig_trunk_id", "term_trunk_id")
GATEWAY_GAUGES = {
    "num_active_session": C.gauge("vsxi_gateway_active_sessions", GP,
                                  "[assumed fields] Active sessions per trunk pair (stats/realtime "
                                  "gw_realtime_stat.num_active_session).", SYS),
    "peak_active_session": C.gauge("vsxi_gateway_peak_active_sessions", GP,
                                   "[assumed fields] Peak sessions per trunk pair (stats/realtime "
                                   "gw_realtime_stat.peak_active_session).", SYS),
    "active_cps": C.gauge("vsxi_gateway_calls_per_second", GP,
                          "[assumed fields] Calls per second per trunk pair (stats/realtime "
                          "gw_realtime_stat.active_cps).", SYS),
}

# --- stats/resource ---------------------------------------------------------------------------------------
RES = "resource"
TDW = ("target", "trunk_id", "direction", "window")
_WSRC = "(stats/resource ingress_stat / gw_egress_stat {}); a value over the window, not a counter"
WINDOW_ATTEMPTS = C.gauge("vsxi_trunk_window_call_attempts", TDW,
                          "Call attempts in the window " + _WSRC.format("<window>_call_attempt"), RES)
WINDOW_ANSWERS = C.gauge("vsxi_trunk_window_call_answers", TDW,
                         "Answered calls in the window " + _WSRC.format("<window>_call_answer"), RES)
WINDOW_FAILURES = C.gauge("vsxi_trunk_window_call_failures", TDW,
                          "Failed calls in the window " + _WSRC.format("<window>_call_fail"), RES)
WINDOW_DURATION = C.gauge("vsxi_trunk_window_call_duration_seconds", TDW,
                          "Summed call duration in the window " + _WSRC.format("<window>_call_durationSec"), RES)
WINDOW_PDD = C.gauge("vsxi_trunk_window_post_dial_delay_seconds", TDW,
                     "Summed post-dial delay in the window " + _WSRC.format("<window>_pdd_ms / 1000"), RES)
TRUNK_INFO = C.gauge("vsxi_trunk_info", ("target", "trunk_id", "alias"),
                     "Trunk name, value 1 (stats/resource ingress_stat / gw_egress_stat alias).", RES)

# --- stats/media_server -----------------------------------------------------------------------------------
MS = "media_server"
MSL = ("target", "media_server", "alias")
_MSRC = "(stats/media_server XBMediaServerRealTimeStat.{})"
MEDIA_UP = C.gauge("vsxi_media_server_up", MSL, "1 when the media server status is 'up' " + _MSRC.format("status"),
                   MS)
MEDIA_ACTIVE = C.gauge("vsxi_media_server_active_sessions", MSL,
                       "Active sessions " + _MSRC.format("numActiveSessions"), MS)
MEDIA_LIMIT = C.gauge("vsxi_media_server_session_limit", MSL,
                      "Maximum connections " + _MSRC.format("maxConnections"), MS)
MEDIA_PRIORITY = C.gauge("vsxi_media_server_priority", MSL, "Priority " + _MSRC.format("priority"), MS)
MEDIA_INFO = C.gauge("vsxi_media_server_info", (*MSL, "switch_type"),
                     "Media server switching type, value 1 " + _MSRC.format("switchType"), MS)

# --- stats/sub_stats --------------------------------------------------------------------------------------
SUB = "sub_stats"
REGISTRATIONS = C.gauge("vsxi_registrations", ("target", "trunk_id", "state", "protocol"),
                        "SIP registrations, counted from stats/sub_stats rows by trunkId, states and protocol.",
                        SUB)
REGISTRATIONS_NAT = C.gauge("vsxi_registrations_behind_nat", ("target", "trunk_id"),
                            "SIP registrations with nat=Yes, counted from stats/sub_stats rows by trunkId.", SUB)

# --- stats/active_calls -----------------------------------------------------------------------------------
AC = "active_calls"
PAIR = ("target", "orig_trunk_id", "term_trunk_id")
ACTIVE_CALLS = C.gauge("vsxi_active_calls", PAIR,
                       "Active calls, counted from stats/active_calls rows by orig_tid and term_tid.", AC)
ACTIVE_CALLS_ANSWERED = C.gauge("vsxi_active_calls_answered", PAIR,
                                "Answered active calls (ans_time set), counted from stats/active_calls rows "
                                "by orig_tid and term_tid.", AC)
CALL_DURATION = C.gauge_histogram("vsxi_active_call_duration_seconds", T,
                                  "Distribution of the duration of the calls active now (stats/active_calls "
                                  "duration); calls with no duration count in +Inf only.", AC)

# --- stats/resource_detail [assumed] ----------------------------------------------------------------------
RD = "resource_detail"
_RDSRC = "[assumed fields] (stats/resource_detail {})"
DETAIL_ACTIVE = C.gauge("vsxi_resource_detail_active_sessions", (*TF, "direction"),
                        "Active sessions per trunk and node, ingress = numOrig, egress = numTerm "
                        + _RDSRC.format("numOrig/numTerm"), RD)
DETAIL_GAUGES = {
    "numPeak": C.gauge("vsxi_resource_detail_peak_active_sessions", TF,
                       "Peak sessions per trunk and node " + _RDSRC.format("numPeak"), RD),
    "totalLimit": C.gauge("vsxi_resource_detail_session_limit", TF,
                          "Session limit per trunk and node " + _RDSRC.format("totalLimit"), RD),
    "cps": C.gauge("vsxi_resource_detail_calls_per_second", TF,
                   "Calls per second per trunk and node " + _RDSRC.format("cps"), RD),
    "cpsLimit": C.gauge("vsxi_resource_detail_cps_limit", TF,
                        "CPS limit per trunk and node " + _RDSRC.format("cpsLimit"), RD),
    "totalCLZ": C.gauge("vsxi_resource_detail_clz_sessions", TF,
                        "CLZ sessions per trunk and node " + _RDSRC.format("totalCLZ"), RD),
    "numCLZCps": C.gauge("vsxi_resource_detail_clz_calls_per_second", TF,
                         "CLZ calls per second per trunk and node " + _RDSRC.format("numCLZCps"), RD),
}

# --- stats/sip_stats [assumed] ----------------------------------------------------------------------------
SIP_MESSAGES = C.gauge("vsxi_sip_messages", ("target", "direction", "message"),
                       "[assumed fields] SIP messages by direction and method or response, from stats/sip_stats "
                       "columns named like in_INVITE / out_4xx; exported as read (a gauge: whether the device "
                       "resets them is unknown).", "sip_stats")


# --- builders ---------------------------------------------------------------------------------------------


def _unmapped(b: Builder, target: str, collector: str, unmapped: r.Unmapped) -> None:
    for u in unmapped.values:
        b.add(UNMAPPED_VALUE, (target, collector, u.section, u.field, u.row), u.value)
    for field, n in unmapped.unreadable:
        b.add(UNREADABLE, (target, collector, field), n)


def build_realtime(b: Builder, target: str, rec: r.Realtime) -> None:
    """vsxi_system_active_sessions{target="sbc-1"} 9000
    vsxi_ha_state{state="active",target="sbc-1"} 1
    vsxi_trunk_active_sessions{direction="ingress",fqdn="Group",target="sbc-1",trunk_id="1001"} 300"""
    v = rec.system.values
    for field, (spec, scale) in SYSTEM_GAUGES.items():
        if field in v:
            b.add(spec, (target,), v[field] * scale)
    b.add(SESSION_ATTEMPTS, (target,), v.get("sum_attempt_session"))
    for proto in ("sip", "h323"):
        for direction in ("inbound", "outbound"):
            b.add(CALL_LEGS, (target, proto, direction), v.get(f"{direction}_{proto}_leg"))
        b.add(PEAK_CALL_LEGS, (target, proto), v.get(f"peak_{proto}_leg"))
    for spec, state in ((HA_STATE, rec.system.ha_current_state), (HA_PREVIOUS_STATE, rec.system.ha_pre_state)):
        if state is None:
            continue
        # An unknown state still gets its own sample, so a new firmware state is visible, not lost.
        for known in (*HA_STATES, *((state,) if state not in HA_STATES else ())):
            b.add(spec, (target, known), 1.0 if known == state else 0.0)
    for t in rec.trunks:
        labels = (target, t.trunk_id, t.fqdn)
        b.add(TRUNK_ACTIVE, (*labels, "ingress"), t.values.get("numOrig"))
        b.add(TRUNK_ACTIVE, (*labels, "egress"), t.values.get("numTerm"))
        for field, spec in TRUNK_GAUGES.items():
            b.add(spec, labels, t.values.get(field))
    for g in rec.gateways:
        for field, spec in GATEWAY_GAUGES.items():
            b.add(spec, (target, g.orig_trunk_id, g.term_trunk_id), g.values.get(field))
    _unmapped(b, target, "realtime", rec.unmapped)


def build_resource(b: Builder, target: str, rec: r.Resource) -> None:
    """vsxi_trunk_window_call_attempts{direction="ingress",target="sbc-1",trunk_id="1001",window="24h"} 194
    vsxi_trunk_info{alias="ATL-PHL VSXs",target="sbc-1",trunk_id="1001"} 1"""
    for w in rec.windows:
        labels = (target, w.trunk_id, w.direction, w.window)
        b.add(WINDOW_ATTEMPTS, labels, w.attempts)
        b.add(WINDOW_ANSWERS, labels, w.answers)
        b.add(WINDOW_FAILURES, labels, w.failures)
        b.add(WINDOW_DURATION, labels, w.duration_seconds)
        b.add(WINDOW_PDD, labels, w.post_dial_delay_seconds)
    for trunk_id, alias in rec.aliases.items():
        b.add(TRUNK_INFO, (target, trunk_id, alias), 1.0)
    _unmapped(b, target, "resource", rec.unmapped)


def build_media_server(b: Builder, target: str, rec: r.MediaServers) -> None:
    """vsxi_media_server_up{alias="MS-1",media_server="1",target="sbc-1"} 1"""
    for s in rec.servers:
        labels = (target, s.index, s.alias)
        b.add(MEDIA_UP, labels, 1.0 if s.status.lower() == "up" else 0.0)
        b.add(MEDIA_ACTIVE, labels, s.active_sessions)
        b.add(MEDIA_LIMIT, labels, s.max_connections)
        b.add(MEDIA_PRIORITY, labels, s.priority)
        b.add(MEDIA_INFO, (*labels, s.switch_type), 1.0)
    _unmapped(b, target, "media_server", rec.unmapped)


def build_sub_stats(b: Builder, target: str, rec: r.Registrations) -> None:
    """vsxi_registrations{protocol="UDP",state="Authenticated",target="sbc-1",trunk_id="1001"} 25"""
    for (trunk, state, protocol), n in sorted(rec.counts.items()):
        b.add(REGISTRATIONS, (target, trunk, state, protocol), n)
    for trunk, n in sorted(rec.nat.items()):
        b.add(REGISTRATIONS_NAT, (target, trunk), n)


def build_active_calls(b: Builder, target: str, rec: r.ActiveCalls) -> None:
    """vsxi_active_calls{orig_trunk_id="1001",target="sbc-1",term_trunk_id="1002"} 15
    vsxi_active_call_duration_seconds_bucket{le="60",target="sbc-1"} 10"""
    for (orig, term), (calls, answered) in sorted(rec.pairs.items()):
        b.add(ACTIVE_CALLS, (target, orig, term), calls)
        b.add(ACTIVE_CALLS_ANSWERED, (target, orig, term), answered)
    b.add_gauge_histogram(CALL_DURATION, (target,), rec.duration_buckets, rec.duration_sum)
    _unmapped(b, target, "active_calls", rec.unmapped)  # durations that are no duration


def build_resource_detail(b: Builder, target: str, rec: r.ResourceDetail) -> None:
    """vsxi_resource_detail_active_sessions{direction="ingress",fqdn="node1",target="sbc-1",trunk_id="1001"} 200"""
    for row in rec.rows:
        labels = (target, row.trunk_id, row.fqdn)
        b.add(DETAIL_ACTIVE, (*labels, "ingress"), row.values.get("numOrig"))
        b.add(DETAIL_ACTIVE, (*labels, "egress"), row.values.get("numTerm"))
        for field, spec in DETAIL_GAUGES.items():
            b.add(spec, labels, row.values.get(field))
    _unmapped(b, target, "resource_detail", rec.unmapped)


def build_sip_stats(b: Builder, target: str, rec: r.SipStats) -> None:
    """vsxi_sip_messages{direction="inbound",message="INVITE",target="sbc-1"} 100000"""
    for m in rec.messages:
        b.add(SIP_MESSAGES, (target, m.direction, m.message), m.value)
    _unmapped(b, target, "sip_stats", rec.unmapped)


BUILDERS: dict[str, Callable[[Builder, str, object], None]] = {
    "realtime": build_realtime,
    "resource": build_resource,
    "resource_detail": build_resource_detail,
    "sip_stats": build_sip_stats,
    "sub_stats": build_sub_stats,
    "active_calls": build_active_calls,
    "media_server": build_media_server,
}


def parse_and_build(collector: str, target: str, body: bytes) -> tuple[Chunk, int, int, int]:
    """Runs in a parse worker: the answer reduced to rendered exposition bytes, with its unmapped-field,
    duplicate-row and sample counts."""
    rec = PARSERS[collector](body)
    b = Builder()
    BUILDERS[collector](b, target, rec)
    return b.chunk(), len(rec.unmapped.names), getattr(rec, "duplicates", 0), b.samples

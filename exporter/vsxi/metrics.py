"""VSXi metrics: the catalogue, and pure functions from parsed records to series (``catalog.Builder``).

Device values come from a background poll (the SBC is slow and fragile, docs/device-apis.md): HELP names the
stats table and field. Names in the contract of the issue (vsxi_up, vsxi_trunk_active_sessions, ...) must not
change: dashboards and alerts use them.
"""

from __future__ import annotations

from exporter.catalog import Builder, Catalog
from exporter.vsxi import records as r

CATALOG = Catalog(order=1)  # exposition order: VSXi first, then XiVO
TARGET = ("target",)
TARGET_COLLECTOR = ("target", "collector")

# --- status, per target and collector (rendered by exporter.polling.status) ---------------------------------------
UP = CATALOG.gauge("vsxi_up", TARGET,
                   "1 when the last poll round of the VSXi authenticated and got at least one table.",
             "status")
TARGET_INFO = CATALOG.gauge("vsxi_target_info", ("target", "ha_group"),
                      "The SBC's HA pair as configured (ha_group), value 1; join on target to compare the two "
                      "nodes of a pair.", "status")
STANDBY = CATALOG.gauge("vsxi_standby", TARGET, "1 when the last poll round was refused with HTTP 402 (node in "
                  "Load-Balance Slave mode: the HA standby serves no stats).", "status")
COLLECTOR_SUCCESS = CATALOG.gauge("vsxi_collector_success", TARGET_COLLECTOR,
                            "1 when the last poll of this stats table was fetched and parsed.", "status")
COLLECTOR_LAST_SUCCESS = CATALOG.gauge("vsxi_collector_last_success_timestamp_seconds", TARGET_COLLECTOR,
                                 "Unix time of the last successful poll of this stats table; its series are "
                                 "dropped when older than 3 poll intervals.", "status")
COLLECTOR_DURATION = CATALOG.gauge("vsxi_collector_duration_seconds", TARGET_COLLECTOR,
                             "Duration of the last poll of this stats table (requests, retries and parsing).",
                             "status")
COLLECTOR_BYTES = CATALOG.gauge("vsxi_collector_response_bytes", TARGET_COLLECTOR,
                          "Size of the last answer for this stats table.", "status")
COLLECTOR_UNMAPPED = CATALOG.gauge("vsxi_collector_unmapped_fields", TARGET_COLLECTOR,
                             "Distinct fields of the last answer that the exporter has no mapping for "
                             "(a firmware with other fields, or a table whose fields were assumed).", "status")
COLLECTOR_DUPLICATES = CATALOG.gauge("vsxi_collector_duplicate_rows", TARGET_COLLECTOR,
                               "Rows repeated in the last answer (seen during HA failover); the first is kept.",
                               "status")
COLLECTOR_FALLBACK = CATALOG.gauge("vsxi_collector_json_fallback", TARGET_COLLECTOR,
                             "1 when JSON is configured but this table is polled as XML because the device "
                             "answered 500 'convert xml2json failed(JAXB)'.", "status")
UNMAPPED_VALUE = CATALOG.gauge("vsxi_unmapped_field_value", ("target", "collector", "section", "field", "row"),
                         "Numeric value of a field the exporter has no mapping for, as read: section is the "
                         "table inside the answer, row its key fields (trunk id, fqdn) or position.", "status")
UNREADABLE = CATALOG.gauge("vsxi_collector_unreadable_values", ("target", "collector", "field"),
                     "Values of a known numeric field in the last answer that are present but no number the "
                     "exporter reads (true, 12 kB): those rows lack that field's series. Absent when all "
                     "read.", "status")

# --- stats/realtime: system_stat --------------------------------------------------------------------------
REALTIME = "realtime"
SYSTEM_GAUGES: dict[str, tuple] = {}


def _system(field: str, name: str, help_: str, scale: float = 1.0):
    spec = CATALOG.gauge(name, TARGET, f"{help_} (stats/realtime system_stat.{field}).", REALTIME)
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
SESSION_ATTEMPTS = CATALOG.counter("vsxi_system_session_attempts_total", TARGET,
                             "Session attempts since the node started (stats/realtime "
                             "system_stat.sum_attempt_session).", REALTIME)
CALL_LEGS = CATALOG.gauge("vsxi_system_call_legs", ("target", "protocol", "direction"),
                    "Active call legs (stats/realtime system_stat.{inbound,outbound}_{sip,h323}_leg).", REALTIME)
PEAK_CALL_LEGS = CATALOG.gauge("vsxi_system_peak_call_legs", ("target", "protocol"),
                         "Peak call legs (stats/realtime system_stat.peak_{sip,h323}_leg).", REALTIME)
HA_STATES = ("active", "standby", "standalone", "oos", "boot")
HA_STATE = CATALOG.gauge("vsxi_ha_state", ("target", "state"),
                   "1 for the current HA state, 0 for the other known states (stats/realtime "
                   "system_stat.ha_current_state).", REALTIME)
HA_PREVIOUS_STATE = CATALOG.gauge("vsxi_ha_previous_state", ("target", "state"),
                            "1 for the previous HA state (stats/realtime system_stat.ha_pre_state).", REALTIME)

# --- stats/realtime: XBResourceRealTimeStatList and gw_realtime_stat ---------------------------------------
TRUNK_NODE = ("target", "trunk_id", "fqdn")
TRUNK_ACTIVE = CATALOG.gauge("vsxi_trunk_active_sessions", (*TRUNK_NODE, "direction"),
                       "Active sessions of a trunk, ingress = numOrig, egress = numTerm; fqdn 'Group' is the "
                       "trunk group row (stats/realtime XBResourceRealTimeStatList).", REALTIME)
TRUNK_GAUGES = {
    "numPeak": CATALOG.gauge("vsxi_trunk_peak_active_sessions", TRUNK_NODE,
                       "Peak active sessions (stats/realtime XBResourceRealTimeStatList.numPeak).", REALTIME),
    "totalLimit": CATALOG.gauge("vsxi_trunk_session_limit", TRUNK_NODE,
                          "Session limit (stats/realtime XBResourceRealTimeStatList.totalLimit).", REALTIME),
    "cps": CATALOG.gauge("vsxi_trunk_calls_per_second", TRUNK_NODE,
                   "Call attempts per second (stats/realtime XBResourceRealTimeStatList.cps).", REALTIME),
    "cpsLimit": CATALOG.gauge("vsxi_trunk_cps_limit", TRUNK_NODE,
                        "Calls-per-second limit (stats/realtime XBResourceRealTimeStatList.cpsLimit).", REALTIME),
    "totalCLZ": CATALOG.gauge("vsxi_trunk_clz_sessions", TRUNK_NODE,
                        "CLZ sessions, as reported (stats/realtime XBResourceRealTimeStatList.totalCLZ).", REALTIME),
    "numCLZCps": CATALOG.gauge("vsxi_trunk_clz_calls_per_second", TRUNK_NODE,
                         "CLZ calls per second, as reported (stats/realtime "
                         "XBResourceRealTimeStatList.numCLZCps).", REALTIME),
}
TRUNK_PAIR = ("target", "orig_trunk_id", "term_trunk_id")
GATEWAY_GAUGES = {
    "num_active_session": CATALOG.gauge("vsxi_gateway_active_sessions", TRUNK_PAIR,
                                  "[assumed fields] Active sessions per trunk pair (stats/realtime "
                                  "gw_realtime_stat.num_active_session).", REALTIME),
    "peak_active_session": CATALOG.gauge("vsxi_gateway_peak_active_sessions", TRUNK_PAIR,
                                   "[assumed fields] Peak sessions per trunk pair (stats/realtime "
                                   "gw_realtime_stat.peak_active_session).", REALTIME),
    "active_cps": CATALOG.gauge("vsxi_gateway_calls_per_second", TRUNK_PAIR,
                          "[assumed fields] Calls per second per trunk pair (stats/realtime "
                          "gw_realtime_stat.active_cps).", REALTIME),
}

# --- stats/resource ---------------------------------------------------------------------------------------
RESOURCE = "resource"
TRUNK_DIRECTION_WINDOW = ("target", "trunk_id", "direction", "window")
_WINDOW_SOURCE = "(stats/resource ingress_stat / gw_egress_stat {}); a value over the window, not a counter"
WINDOW_ATTEMPTS = CATALOG.gauge("vsxi_trunk_window_call_attempts", TRUNK_DIRECTION_WINDOW,
                          "Call attempts in the window " + _WINDOW_SOURCE.format("<window>_call_attempt"), RESOURCE)
WINDOW_ANSWERS = CATALOG.gauge("vsxi_trunk_window_call_answers", TRUNK_DIRECTION_WINDOW,
                         "Answered calls in the window " + _WINDOW_SOURCE.format("<window>_call_answer"), RESOURCE)
WINDOW_FAILURES = CATALOG.gauge("vsxi_trunk_window_call_failures", TRUNK_DIRECTION_WINDOW,
                          "Failed calls in the window " + _WINDOW_SOURCE.format("<window>_call_fail"), RESOURCE)
WINDOW_DURATION = CATALOG.gauge("vsxi_trunk_window_call_duration_seconds", TRUNK_DIRECTION_WINDOW,
                          "Summed call duration in the window " + _WINDOW_SOURCE.format("<window>_call_durationSec"),
                          RESOURCE)
WINDOW_PDD = CATALOG.gauge("vsxi_trunk_window_post_dial_delay_seconds", TRUNK_DIRECTION_WINDOW,
                     "Summed post-dial delay in the window " + _WINDOW_SOURCE.format("<window>_pdd_ms / 1000"),
                     RESOURCE)
TRUNK_INFO = CATALOG.gauge("vsxi_trunk_info", ("target", "trunk_id", "alias"),
                     "Trunk name, value 1 (stats/resource ingress_stat / gw_egress_stat alias).", RESOURCE)

# --- stats/media_server -----------------------------------------------------------------------------------
MEDIA_SERVER = "media_server"
MEDIA_SERVER_LABELS = ("target", "media_server", "alias")
_MEDIA_SOURCE = "(stats/media_server XBMediaServerRealTimeStat.{})"
MEDIA_UP = CATALOG.gauge("vsxi_media_server_up", MEDIA_SERVER_LABELS,
                         "1 when the media server status is 'up' " + _MEDIA_SOURCE.format("status"),
                   MEDIA_SERVER)
MEDIA_ACTIVE = CATALOG.gauge("vsxi_media_server_active_sessions", MEDIA_SERVER_LABELS,
                       "Active sessions " + _MEDIA_SOURCE.format("numActiveSessions"), MEDIA_SERVER)
MEDIA_LIMIT = CATALOG.gauge("vsxi_media_server_session_limit", MEDIA_SERVER_LABELS,
                      "Maximum connections " + _MEDIA_SOURCE.format("maxConnections"), MEDIA_SERVER)
MEDIA_PRIORITY = CATALOG.gauge("vsxi_media_server_priority", MEDIA_SERVER_LABELS,
                               "Priority " + _MEDIA_SOURCE.format("priority"), MEDIA_SERVER)
MEDIA_INFO = CATALOG.gauge("vsxi_media_server_info", (*MEDIA_SERVER_LABELS, "switch_type"),
                     "Media server switching type, value 1 " + _MEDIA_SOURCE.format("switchType"), MEDIA_SERVER)

# --- stats/sub_stats --------------------------------------------------------------------------------------
SUB_STATS = "sub_stats"
REGISTRATIONS = CATALOG.gauge("vsxi_registrations", ("target", "trunk_id", "state", "protocol"),
                        "SIP registrations, counted from stats/sub_stats rows by trunkId, states and protocol.",
                        SUB_STATS)
REGISTRATIONS_NAT = CATALOG.gauge("vsxi_registrations_behind_nat", ("target", "trunk_id"),
                            "SIP registrations with nat=Yes, counted from stats/sub_stats rows by trunkId.", SUB_STATS)

# --- stats/active_calls -----------------------------------------------------------------------------------
ACTIVE_CALLS_TABLE = "active_calls"
ACTIVE_CALLS = CATALOG.gauge("vsxi_active_calls", TRUNK_PAIR,
                       "Active calls, counted from stats/active_calls rows by orig_tid and term_tid.",
                       ACTIVE_CALLS_TABLE)
ACTIVE_CALLS_ANSWERED = CATALOG.gauge("vsxi_active_calls_answered", TRUNK_PAIR,
                                "Answered active calls (ans_time set), counted from stats/active_calls rows "
                                "by orig_tid and term_tid.", ACTIVE_CALLS_TABLE)
CALL_DURATION = CATALOG.gauge_histogram("vsxi_active_call_duration_seconds", TARGET,
                                  "Distribution of the duration of the calls active now (stats/active_calls "
                                  "duration); calls with no duration count in +Inf only.", ACTIVE_CALLS_TABLE)

# --- stats/resource_detail [assumed] ----------------------------------------------------------------------
RESOURCE_DETAIL = "resource_detail"
_DETAIL_SOURCE = "[assumed fields] (stats/resource_detail {})"
DETAIL_ACTIVE = CATALOG.gauge("vsxi_resource_detail_active_sessions", (*TRUNK_NODE, "direction"),
                        "Active sessions per trunk and node, ingress = numOrig, egress = numTerm "
                        + _DETAIL_SOURCE.format("numOrig/numTerm"), RESOURCE_DETAIL)
DETAIL_GAUGES = {
    "numPeak": CATALOG.gauge("vsxi_resource_detail_peak_active_sessions", TRUNK_NODE,
                       "Peak sessions per trunk and node " + _DETAIL_SOURCE.format("numPeak"), RESOURCE_DETAIL),
    "totalLimit": CATALOG.gauge("vsxi_resource_detail_session_limit", TRUNK_NODE,
                          "Session limit per trunk and node " + _DETAIL_SOURCE.format("totalLimit"), RESOURCE_DETAIL),
    "cps": CATALOG.gauge("vsxi_resource_detail_calls_per_second", TRUNK_NODE,
                   "Calls per second per trunk and node " + _DETAIL_SOURCE.format("cps"), RESOURCE_DETAIL),
    "cpsLimit": CATALOG.gauge("vsxi_resource_detail_cps_limit", TRUNK_NODE,
                        "CPS limit per trunk and node " + _DETAIL_SOURCE.format("cpsLimit"), RESOURCE_DETAIL),
    "totalCLZ": CATALOG.gauge("vsxi_resource_detail_clz_sessions", TRUNK_NODE,
                        "CLZ sessions per trunk and node " + _DETAIL_SOURCE.format("totalCLZ"), RESOURCE_DETAIL),
    "numCLZCps": CATALOG.gauge("vsxi_resource_detail_clz_calls_per_second", TRUNK_NODE,
                         "CLZ calls per second per trunk and node " + _DETAIL_SOURCE.format("numCLZCps"),
                         RESOURCE_DETAIL),
}

# --- stats/sip_stats [assumed] ----------------------------------------------------------------------------
SIP_MESSAGES = CATALOG.gauge("vsxi_sip_messages", ("target", "direction", "message"),
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

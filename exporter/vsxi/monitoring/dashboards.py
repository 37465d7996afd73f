"""The VSXi family's dashboards: the SBC fleet and one SBC in detail; and its panels on the exporter-health
dashboard (what its collectors report beside their series)."""

from __future__ import annotations

from mixin.kit import HEALTH_TARGET_SEL as ST
from mixin.kit import SEL, Dashboard, Layout, dashboard, query, ratio, var


def sbc_fleet() -> dict:
    v = [var("job", "Job", "label_values(vsxi_up, job)"),
         var("target", "SBC", 'label_values(vsxi_up{job=~"$job"}, target)')]
    L = Layout()
    L.row("Fleet")
    L.add("stat", "SBCs up", [query(f"sum(vsxi_up{{{SEL}}})", "up")], "none", w=4, h=4,
          description="SBCs whose last poll round authenticated and got at least one table.")
    L.add("stat", "SBCs down", [query(
        f"count(vsxi_up{{{SEL}}} == 0 unless on (job, target) vsxi_standby{{{SEL}}} == 1) or vector(0)", "down")],
        "none", w=4, h=4, description="SBCs whose last poll round got no table, HA standby nodes (402) left out: "
                                      "they refuse polls by design.")
    L.add("stat", "HA standby (402)", [query(f"sum(vsxi_standby{{{SEL}}})", "standby")], "none", w=4, h=4)
    L.add("stat", "Active sessions (fleet)", [query(f"sum(vsxi_system_active_sessions{{{SEL}}})", "sessions")],
          "short", w=6, h=4)
    L.add("stat", "Calls per second (fleet)", [query(f"sum(vsxi_system_calls_per_second{{{SEL}}})", "cps")],
          "short", w=6, h=4)
    L.row("Capacity")
    L.add("timeseries", "Sessions vs licence", [query(
        f"target:vsxi_system_session_utilisation:ratio{{{SEL}}}", "{{target}}")], "percentunit", min_=0, max_=1,
        description="sum_active_session / max_session_allowed (recording rule).")
    L.add("timeseries", "CPS vs limit", [query(
        f"target:vsxi_system_cps_utilisation:ratio{{{SEL}}}", "{{target}}")], "percentunit", min_=0, max_=1,
        description="current_cps / max_cps_allowed (recording rule).")
    L.add("timeseries", "Active sessions", [
        query(f"vsxi_system_active_sessions{{{SEL}}}", "{{target}}"),
        query(f"vsxi_system_session_limit{{{SEL}}}", "{{target}} licence")], "short")
    L.add("timeseries", "Session attempts", [query(
        f"rate(vsxi_system_session_attempts_total{{{SEL}}}[$__rate_interval])", "{{target}}")], "ops")
    L.add("timeseries", "Restarts (session-attempt counter resets)", [query(
        f"resets(vsxi_system_session_attempts_total{{{SEL}}}[$__rate_interval])", "{{target}}")], "short",
        description="1 or more where the SBC restarted (sum_attempt_session went back to zero).")
    L.row("Health")
    L.add("timeseries", "HA state", [query(f'vsxi_ha_state{{{SEL}}} == 1', "{{target}}: {{state}}")], "none",
          description="1 for each SBC's current HA state.")
    L.add("timeseries", "CPU busy", [query(f"1 - vsxi_system_cpu_idle_ratio{{{SEL}}}", "{{target}}")],
          "percentunit", min_=0, max_=1)
    L.add("stat", "HA nodes without ha_group", [query(
        f'count(vsxi_ha_state{{{SEL}, state=~"active|standby"}} == 1 unless on (job, target) vsxi_target_info) '
        "or vector(0)", "nodes")], "none", w=6, h=6,
        description="SBCs in an HA pair (active or standby) whose pair is not configured (ha_group): "
                    "VsxiXivoHaBothNodesActive cannot see a split brain for them. The device does not name its "
                    "peer, so the pair is taken from the exporter config (docs/runbooks.md).")
    L.add("table", "HA status codes", [
        query(f"vsxi_ha_local_status{{{SEL}}}", "local", instant=True),
        query(f"vsxi_ha_remote_status{{{SEL}}}", "remote", instant=True),
        query(f"vsxi_ha_switch_over_flag{{{SEL}}}", "switch-over", instant=True),
        query(f"vsxi_ha_previous_state{{{SEL}}} == 1", "previous", instant=True)], "none", w=10, h=6,
        description="stats/realtime system_stat: ha_local_status and ha_remote_status (0 = healthy), "
                    "switch_over_flag (3 = normal), ha_pre_state.")
    L.add("timeseries", "Cluster sessions", [
        query(f"vsxi_cluster_active_sessions{{{SEL}}}", "{{target}} active"),
        query(f"vsxi_cluster_peak_active_sessions{{{SEL}}}", "{{target}} peak")], "short", w=8, h=6,
        description="Sessions of the HA cluster as each node reports them (cluster_active_session, "
                    "cluster_peak_session).")
    L.row("Limits and legs")
    L.add("timeseries", "Refused over the licence and CPS limit", [
        query(f"vsxi_system_session_limit_exceeded{{{SEL}}}", "{{target}} sessions"),
        query(f"vsxi_system_cps_limit_exceeded{{{SEL}}}", "{{target}} CPS")], "short", w=8,
        description="max_session_exceed and max_cps_exceed as the SBC reports them: a rise means calls refused.")
    L.add("timeseries", "Peak sessions and flow control", [
        query(f"vsxi_system_peak_active_sessions{{{SEL}}}", "{{target}} peak sessions"),
        query(f"vsxi_system_flow_control_level{{{SEL}}}", "{{target}} flow control")], "short", w=8,
        description="peak_active_session; flow_control_lev (0 = none: above it the SBC throttles).")
    L.add("timeseries", "Call legs by protocol", [
        query(f"sum by (target, protocol, direction) (vsxi_system_call_legs{{{SEL}}})",
                "{{target}} {{protocol}} {{direction}}"),
        query(f"vsxi_system_peak_call_legs{{{SEL}}}", "{{target}} {{protocol}} peak")], "short", w=8)
    L.add("timeseries", "Answer-seizure ratio by direction (1h)", [query(
        f'target_direction_window:vsxi_trunk_window_answer_seizure:ratio{{{SEL}, window="1h"}}',
        "{{target}} {{direction}}")], "percentunit", w=24, min_=0, max_=1,
        description="All trunks of each SBC together, from stats/resource 1h_ fields (recording rule).")
    return dashboard("vsxi-sbc-fleet", "VSXi / SBC fleet", "Every Sansay VSXi SBC at a glance.", v, L, ["vsxi"])


def sbc_detail() -> dict:
    v = [var("job", "Job", "label_values(vsxi_up, job)"),
         var("target", "SBC", 'label_values(vsxi_up{job=~"$job"}, target)', multi=False, include_all=False),
         var("trunk", "Trunk", 'label_values(vsxi_trunk_info{job=~"$job", target=~"$target"}, trunk_id)')]
    T = f'{SEL}, trunk_id=~"$trunk"'
    W = f'{T}, window=~"$window"'
    v.append({"name": "window", "label": "Window", "type": "custom", "query": "15m,1h,24h",
              "current": {"text": "1h", "value": "1h"}, "multi": False, "includeAll": False, "hide": 0,
              "options": [{"text": w, "value": w, "selected": w == "1h"} for w in ("15m", "1h", "24h")]})
    L = Layout()
    L.row("Trunk sessions")
    L.add("timeseries", "Sessions per trunk and direction", [query(
        f'vsxi_trunk_active_sessions{{{T}, fqdn="Group"}}', "{{trunk_id}} {{direction}}")], "short",
        description="ingress = numOrig, egress = numTerm (trunk group rows).")
    L.add("timeseries", "Trunk sessions vs limit", [query(
        f"target_trunk_id:vsxi_trunk_session_utilisation:ratio{{{T}}}", "{{trunk_id}}")], "percentunit",
        min_=0, max_=1)
    L.add("timeseries", "Trunk calls per second", [
        query(f'vsxi_trunk_calls_per_second{{{T}, fqdn="Group"}}', "{{trunk_id}}"),
        query(f'vsxi_trunk_cps_limit{{{T}, fqdn="Group"}}', "{{trunk_id}} limit")], "short")
    L.add("timeseries", "Trunk calls per second vs limit", [query(
        f"target_trunk_id:vsxi_trunk_cps_utilisation:ratio{{{T}}}", "{{trunk_id}}")], "percentunit",
        min_=0, max_=1)
    L.add("table", "Trunks", [query(f"vsxi_trunk_info{{{T}}}", "", instant=True)], "none",
          description="Trunk ids and names (stats/resource alias).")
    L.row("Trunks per node (stats/realtime rows other than Group)")
    L.add("timeseries", "Sessions per trunk and node", [query(
        f'vsxi_trunk_active_sessions{{{T}, fqdn!="Group"}}', "{{trunk_id}} {{fqdn}} {{direction}}")], "short",
        w=8, description="Per node/peer rows of XBResourceRealTimeStatList (fqdn other than Group).")
    L.add("timeseries", "Peak sessions per trunk", [query(
        f"vsxi_trunk_peak_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}}")], "short", w=8,
        description="numPeak, Group and node rows.")
    L.add("timeseries", "CLZ sessions and CPS", [
        query(f"vsxi_trunk_clz_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} sessions"),
        query(f"vsxi_trunk_clz_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}} CPS")], "short", w=8,
        description="totalCLZ and numCLZCps as reported (their meaning is not public).")
    L.row("resource_detail [assumed fields]")
    L.add("timeseries", "Sessions per trunk, node and direction", [query(
        f"vsxi_resource_detail_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} {{direction}}")], "short", w=8,
        description="stats/resource_detail, whose fields are assumed (docs/device-apis.md): compare with "
                    "the realtime rows; unmapped fields show below.")
    L.add("timeseries", "Sessions vs limit", [
        query(f"vsxi_resource_detail_peak_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} peak"),
        query(f"vsxi_resource_detail_session_limit{{{T}}}", "{{trunk_id}} {{fqdn}} limit")], "short", w=8)
    L.add("timeseries", "CPS vs limit", [
        query(f"vsxi_resource_detail_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}}"),
        query(f"vsxi_resource_detail_cps_limit{{{T}}}", "{{trunk_id}} {{fqdn}} limit"),
        query(f"vsxi_resource_detail_clz_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} CLZ"),
        query(f"vsxi_resource_detail_clz_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}} CLZ CPS")],
        "short", w=8)
    L.row("Trunk pairs (gw_realtime_stat) [assumed fields]")
    G = f'{SEL}, orig_trunk_id=~"$trunk"'
    L.add("timeseries", "Sessions per trunk pair", [
        query(f"vsxi_gateway_active_sessions{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}}"),
        query(f"vsxi_gateway_peak_active_sessions{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}} peak")],
        "short", w=12, description="stats/realtime gw_realtime_stat, seen empty on idle SBCs; fields assumed.")
    L.add("timeseries", "CPS per trunk pair", [query(
        f"vsxi_gateway_calls_per_second{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}}")], "short", w=12)
    L.row("Trunk quality ($window window)")
    # Computed here for the one SBC shown: the recording rules hold only the window the alerts read.
    by = "trunk_id, direction"
    L.add("timeseries", "Answer-seizure ratio", [query(
        ratio(f"vsxi_trunk_window_call_answers{{{W}}}", f"vsxi_trunk_window_call_attempts{{{W}}}", by),
        "{{trunk_id}} {{direction}}")], "percentunit", w=6, min_=0, max_=1,
        description="Answered of attempted calls over the window (stats/resource <window>_call_answer / "
                    "<window>_call_attempt).")
    L.add("timeseries", "Failure ratio", [query(
        ratio(f"vsxi_trunk_window_call_failures{{{W}}}", f"vsxi_trunk_window_call_attempts{{{W}}}", by),
        "{{trunk_id}} {{direction}}")], "percentunit", w=6, min_=0, max_=1,
        description="Failed of attempted calls over the window (stats/resource <window>_call_fail / "
                    "<window>_call_attempt).")
    L.add("timeseries", "Mean post-dial delay", [query(
        ratio(f"vsxi_trunk_window_post_dial_delay_seconds{{{W}}}", f"vsxi_trunk_window_call_attempts{{{W}}}", by),
        "{{trunk_id}} {{direction}}")], "s", w=6,
        description="Summed post-dial delay per attempt over the window (stats/resource <window>_pdd_ms).")
    L.add("timeseries", "Mean call duration", [query(
        ratio(f"vsxi_trunk_window_call_duration_seconds{{{W}}}", f"vsxi_trunk_window_call_answers{{{W}}}", by),
        "{{trunk_id}} {{direction}}")], "s", w=6,
        description="Summed call duration per answered call over the window (stats/resource "
                    "<window>_call_durationSec).")
    L.add("timeseries", "Call attempts in the window", [query(
        f"vsxi_trunk_window_call_attempts{{{W}}}", "{{trunk_id}} {{direction}}")], "short", w=24)
    L.row("Registrations and calls")
    L.add("timeseries", "Registrations by state", [query(
        f"sum by (state) (vsxi_registrations{{{T}}})", "{{state}}")], "short", w=8)
    L.add("timeseries", "Registrations by protocol", [query(
        f"sum by (protocol) (vsxi_registrations{{{T}}})", "{{protocol}}")], "short", w=8)
    L.add("timeseries", "Registrations behind NAT", [query(
        f"sum(vsxi_registrations_behind_nat{{{T}}})", "behind NAT")], "short", w=8)
    L.add("timeseries", "Active calls per trunk pair", [query(
        f'vsxi_active_calls{{{SEL}, orig_trunk_id=~"$trunk"}}', "{{orig_trunk_id}} -> {{term_trunk_id}}")],
        "short")
    L.add("timeseries", "Answered share of active calls per trunk pair", [query(
        f'target_orig_trunk_id_term_trunk_id:vsxi_active_calls_answered:ratio{{{SEL}, orig_trunk_id=~"$trunk"}}',
        "{{orig_trunk_id}} -> {{term_trunk_id}}")], "percentunit", min_=0, max_=1,
        description="Active calls past answer / all active calls (stats/active_calls; recording rule).")
    L.add("timeseries", "Duration of active calls", [
        query(f"histogram_quantile(0.5, sum by (le) (vsxi_active_call_duration_seconds_bucket{{{SEL}}}))",
                "median"),
        query(f"histogram_quantile(0.9, sum by (le) (vsxi_active_call_duration_seconds_bucket{{{SEL}}}))",
                "90th percentile")], "s")
    L.row("Media servers and SIP")
    L.add("timeseries", "Media server sessions vs limit", [query(
        f"target_media_server:vsxi_media_server_session_utilisation:ratio{{{SEL}}}", "{{alias}}")], "percentunit",
        w=8, min_=0, max_=1)
    L.add("stat", "Media servers up", [query(f"vsxi_media_server_up{{{SEL}}}", "{{alias}}")], "bool_on_off",
          w=8)
    L.add("table", "Media servers", [
        query(f"vsxi_media_server_info{{{SEL}}}", "", instant=True),
        query(f"vsxi_media_server_priority{{{SEL}}}", "priority", instant=True)], "none", w=8,
        description="Switch type and priority of each media server (stats/media_server).")
    L.add("timeseries", "SIP messages [assumed fields]", [query(
        f"vsxi_sip_messages{{{SEL}}}", "{{direction}} {{message}}")], "short", w=8,
        description="stats/sip_stats, fields assumed: values as read (whether the device resets them is unknown).")
    L.add("timeseries", "Unmapped fields per table", [query(
        f"vsxi_collector_unmapped_fields{{{SEL}}}", "{{collector}}")], "short", w=12,
        description="Fields the exporter cannot map: non-zero means a firmware with other fields (please report).")
    L.add("timeseries", "Unreadable values per field", [query(
        f"vsxi_collector_unreadable_values{{{SEL}}}", "{{collector}} {{field}}")], "short", w=12,
        description="Known numeric fields whose value is no number the exporter reads (true, 12 kB): those "
                    "series are missing. Non-zero means a firmware writes values differently (please report).")
    return dashboard("vsxi-sbc-detail", "VSXi / SBC detail", "One SBC: trunks, quality, registrations, calls.",
                     v, L, ["vsxi"])


def dashboards() -> list[Dashboard]:
    return [sbc_fleet(), sbc_detail()]


def health_panels(L: Layout) -> None:
    """What the VSXi collectors report beside their series (their AnswerFacts, the JSON fallback)."""
    L.add("timeseries", "Duplicate rows and JSON fallback", [
        query(f"vsxi_collector_duplicate_rows{{{ST}}}", "{{target}} {{collector}} duplicates"),
        query(f"vsxi_collector_json_fallback{{{ST}}}", "{{target}} {{collector}} polled as XML")], "short",
        description="Rows repeated in an answer (seen during HA failover; the first is kept); tables polled as "
                    "XML because the device's JSON conversion failed.")
    L.add("table", "Unmapped field values (first 500 per answer)", [query(
        f"vsxi_unmapped_field_value{{{ST}}}", "", instant=True)], "none",
        description="Numeric fields the exporter does not map, with their values: what to report for a new "
                    "firmware.")

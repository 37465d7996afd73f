"""The VSXi family's recording rules and alerts (thresholds: config.py beside this file)."""

from __future__ import annotations

from exporter.vsxi.monitoring.config import THRESHOLDS as T
from exporter.vsxi.status import STATUS
from mixin.config import THRESHOLDS as COMMON
from mixin.kit import Rule, alert, down, ratio, with_site

WINDOW_BY = "job, target, trunk_id, direction, window"
TW = "target_trunk_id_direction_window"


def recording_rules() -> list[Rule]:
    return [
        {"record": f"{TW}:vsxi_trunk_window_answer_seizure:ratio",
         "expr": ratio("vsxi_trunk_window_call_answers", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_failure:ratio",
         "expr": ratio("vsxi_trunk_window_call_failures", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean",
         "expr": ratio("vsxi_trunk_window_post_dial_delay_seconds", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_call_duration_seconds:mean",
         "expr": ratio("vsxi_trunk_window_call_duration_seconds", "vsxi_trunk_window_call_answers", WINDOW_BY)},
        {"record": "target_direction_window:vsxi_trunk_window_answer_seizure:ratio",
         "expr": ratio("vsxi_trunk_window_call_answers", "vsxi_trunk_window_call_attempts",
                       "job, target, direction, window")},
        {"record": "target:vsxi_system_session_utilisation:ratio",
         "expr": ratio("vsxi_system_active_sessions", "vsxi_system_session_limit", "job, target")},
        {"record": "target:vsxi_system_cps_utilisation:ratio",
         "expr": ratio("vsxi_system_calls_per_second", "vsxi_system_cps_limit", "job, target")},
        {"record": "target_trunk_id:vsxi_trunk_session_utilisation:ratio",
         "expr": ratio('vsxi_trunk_active_sessions{fqdn="Group"}', 'vsxi_trunk_session_limit{fqdn="Group"}',
                       "job, target, trunk_id")},
        # 0, not nothing, when sub_stats was read and no registration is left: the series of the last
        # registrations disappear with them, and the most common outage must still page.
        {"record": "target_trunk_id:vsxi_trunk_cps_utilisation:ratio",
         "expr": ratio('vsxi_trunk_calls_per_second{fqdn="Group"}', 'vsxi_trunk_cps_limit{fqdn="Group"}',
                       "job, target, trunk_id")},
        {"record": "target_media_server:vsxi_media_server_session_utilisation:ratio",
         "expr": ratio("vsxi_media_server_active_sessions", "vsxi_media_server_session_limit",
                       "job, target, media_server, alias")},
        {"record": "target:vsxi_registrations:sum",
         "expr": "sum by (job, target) (vsxi_registrations)\nor\n"
                 "0 * sum by (job, target) (vsxi_collector_success{collector=\"sub_stats\"} == 1)"},
        {"record": "target_orig_trunk_id_term_trunk_id:vsxi_active_calls_answered:ratio",
         "expr": ratio("vsxi_active_calls_answered", "vsxi_active_calls",
                       "job, target, orig_trunk_id, term_trunk_id")},
    ]


def two_levels(name: str, expr: str, threshold: str, for_: str, component: str, summary: str,
               description: str) -> list[Rule]:
    """``expr`` above ``<threshold>_warning`` (warning) and ``<threshold>_critical`` (critical): one alert name,
    two severities (the example Alertmanager config mutes the warning under the critical)."""
    return [alert(name, f"{expr} > {T[f'{threshold}_{level}']}", T[for_], level, component, summary, description)
            for level in ("warning", "critical")]


def sessions_collapse(t: dict) -> str:
    """Active sessions fallen below a share of their level a while ago, on an SBC that is up, not a standby
    and not through an HA change (its peer took the calls: VsxiXivoHaStateChanged)."""
    before = f"avg_over_time(vsxi_system_active_sessions[10m] offset {t['sessions_collapse_offset']})"
    return (f"vsxi_system_active_sessions\n< {t['sessions_collapse_ratio']} * {before}\n"
            f"and {before} >= {t['sessions_collapse_min']}\n"
            "and on (job, target) vsxi_up == 1\n"
            "unless on (job, target) vsxi_standby == 1\n"
            f'unless on (job, target) changes(vsxi_ha_state{{state="active"}}[30m]) > 0')


def alerts() -> list[Rule]:
    t = {**COMMON, **T}
    tw = f'window="{t["trunk_window"]}"'
    guard = f'sum by ({WINDOW_BY}) (vsxi_trunk_window_call_attempts{{{tw}}}) >= {t["trunk_min_attempts"]}'
    return [
        alert("FirmwareAnswersDiffer",
              "vsxi_collector_unmapped_fields > 0\nor on (job, target, collector)\n"
              "sum by (job, target, collector) (vsxi_collector_unreadable_values) > 0",
              t["firmware_fields_for"], "info", "collector",
              "{{ $labels.target }}: {{ $labels.collector }} answers differ from what the exporter knows",
              "Fields the exporter cannot map (vsxi_collector_unmapped_fields), or known fields whose value it "
              "cannot read (vsxi_collector_unreadable_values), for " + t["firmware_fields_for"] + ": usually a "
              "firmware upgrade. Their data is missing from the dashboards; please report the fields."),
        # --- reachability and authentication ---
        alert("SbcUnreachable", with_site(down(STATUS)), t["device_down_for"],
              "critical", "sbc", "SBC {{ $labels.target }} unreachable",
              "The exporter got no stats table from {{ $labels.target }} for " + t["device_down_for"] +
              " (an HA standby answering 402 is not counted here)."),
        alert("SbcAuthFailing",
              f'increase(vsxi_xivo_exporter_auth_failures_total{{family="vsxi"}}[{t["auth_failing_window"]}]) > 0',
              "0m", "critical", "sbc", "SBC {{ $labels.target }} refuses the exporter's credentials",
              "The VSXi answered 401 User Not Authorized: check the username and password file of "
              "{{ $labels.target }} (the exporter does not retry, to avoid a lockout)."),
        # --- SBC capacity ---
        alert("SbcSessionUtilisationHigh",
              f"target:vsxi_system_session_utilisation:ratio > {t['session_utilisation_high']}",
              t["utilisation_for"], "warning", "sbc", "SBC {{ $labels.target }} near its session licence",
              "{{ $value | humanizePercentage }} of the licensed sessions are in use."),
        alert("SbcSessionsPredictedExhaustion",
              f"predict_linear(vsxi_system_active_sessions[{t['exhaustion_lookback']}], "
              f"{t['exhaustion_horizon_seconds']})\n> on (job, target) vsxi_system_session_limit",
              t["exhaustion_for"], "warning", "sbc",
              "SBC {{ $labels.target }} will run out of licensed sessions",
              f"At the trend of the last {t['exhaustion_lookback']}, active sessions exceed the licence within "
              f"{t['exhaustion_horizon_seconds'] // 3600} h."),
        alert("SbcCpsUtilisationHigh", f"target:vsxi_system_cps_utilisation:ratio > {t['cps_utilisation_high']}",
              t["utilisation_for"], "warning", "sbc", "SBC {{ $labels.target }} near its CPS limit",
              "{{ $value | humanizePercentage }} of the licensed calls per second are in use."),
        alert("SbcCallsRefused", f"delta(vsxi_system_session_limit_exceeded[{t['refused_window']}]) > 0", "0m",
              "critical", "sbc", "SBC {{ $labels.target }} refuses calls over its session licence",
              "max_session_exceed rose in the last " + t["refused_window"] + ": calls were refused because the "
              "licensed sessions were all in use."),
        alert("SbcCallsRefusedOverCps", f"delta(vsxi_system_cps_limit_exceeded[{t['refused_window']}]) > 0",
              "0m", "warning", "sbc", "SBC {{ $labels.target }} refuses calls over its CPS limit",
              "max_cps_exceed rose in the last " + t["refused_window"] + ": call attempts arrived faster than "
              "the licensed calls per second and were refused."),
        *two_levels("TrunkSessionUtilisationHigh",
                    "target_trunk_id:vsxi_trunk_session_utilisation:ratio", "trunk_utilisation",
                    "trunk_utilisation_for", "trunk",
                    "{{ $labels.target }} trunk {{ $labels.trunk_id }} near its session limit",
                    "{{ $value | humanizePercentage }} of the trunk group's session limit is in use: new "
                    "calls on it are refused at 100%."),
        *two_levels("TrunkCpsUtilisationHigh",
                    "target_trunk_id:vsxi_trunk_cps_utilisation:ratio", "trunk_cps_utilisation",
                    "trunk_cps_utilisation_for", "trunk",
                    "{{ $labels.target }} trunk {{ $labels.trunk_id }} near its CPS limit",
                    "Call attempts on the trunk group at {{ $value | humanizePercentage }} of its calls-per-"
                    "second limit: attempts over it are refused."),
        *two_levels("SbcCpuBusy", "1 - vsxi_system_cpu_idle_ratio", "cpu_busy", "cpu_busy_for", "sbc",
                    "SBC {{ $labels.target }} CPU busy",
                    "The SBC's CPU has been {{ $value | humanizePercentage }} busy for " + t["cpu_busy_for"]
                    + " (cpu_idle_percent): signalling may slow down (post-dial delay) before calls fail."),
        alert("SbcSessionsCollapsed", sessions_collapse(t), t["sessions_collapse_for"], "critical", "sbc",
              "SBC {{ $labels.target }}: active sessions collapsed",
              "Active sessions fell to {{ $value }}, below " + f"{t['sessions_collapse_ratio']:.0%}" + " of their "
              "level " + t["sessions_collapse_offset"] + " ago, on an SBC that is up and did not fail over: a "
              "carrier, a peer or the core network is likely gone."),
        alert("SbcRestarted", f"resets(vsxi_system_session_attempts_total[{t['restart_window']}]) > 0", "0m",
              "warning", "sbc", "SBC {{ $labels.target }} restarted",
              "Its session-attempt counter (sum_attempt_session) went back to zero in the last "
              + t["restart_window"] + ": the SBC's software or the node restarted. Calls up at that time were "
              "dropped unless an HA peer took them."),
        # --- trunk quality ---
        alert("TrunkAsrLow",
              f"{TW}:vsxi_trunk_window_answer_seizure:ratio{{{tw}}} < {t['trunk_asr_low']}\nand on ({WINDOW_BY})"
              f"\n{guard}",
              t["trunk_quality_for"], "warning", "trunk",
              "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): ASR low",
              "Answer-seizure ratio {{ $value | humanizePercentage }} over the last " + t["trunk_window"] + "."),
        alert("TrunkFailureRatioHigh",
              f"{TW}:vsxi_trunk_window_failure:ratio{{{tw}}} > {t['trunk_failure_ratio_high']}\n"
              f"and on ({WINDOW_BY})\n{guard}",
              t["trunk_quality_for"], "warning", "trunk",
              "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): many failed calls",
              "{{ $value | humanizePercentage }} of the call attempts failed over the last " + t["trunk_window"]
              + "."),
        alert("TrunkPddHigh",
              f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean{{{tw}}} > {t['trunk_pdd_high_seconds']}\n"
              f"and on ({WINDOW_BY})\n{guard}",
              t["trunk_quality_for"], "warning", "trunk",
              "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): post-dial delay high",
              "Mean post-dial delay {{ $value | humanizeDuration }} over the last " + t["trunk_window"] + "."),
        # --- media and HA ---
        alert("MediaServerDown", "vsxi_media_server_up == 0", t["media_server_down_for"], "critical", "media",
              "{{ $labels.target }}: media server {{ $labels.alias }} down",
              "Media server {{ $labels.media_server }} ({{ $labels.alias }}) does not report status up."),
        alert("HaStateChanged", f'changes(vsxi_ha_state{{state="active"}}[{t["ha_change_window"]}]) > 0', "0m",
              "warning", "sbc", "SBC {{ $labels.target }} changed HA state",
              "The node's HA state changed in the last " + t["ha_change_window"] + ": check the failover."),
        alert("HaBothNodesActive",
              'count by (ha_group) (\n  (vsxi_ha_state{state="active"} == 1)\n  * on (job, target) '
              "group_left (ha_group) vsxi_target_info\n) > 1",
              "1m", "critical", "sbc", "HA pair {{ $labels.ha_group }}: both nodes active",
              "Two SBCs of HA group {{ $labels.ha_group }} report ha_current_state active (split brain)."),
        alert("HaPeerUnhealthy",
              'vsxi_ha_remote_status != 0\nand on (job, target)\n(vsxi_ha_state{state=~"active|standby"} == 1)',
              t["ha_peer_unhealthy_for"], "warning", "sbc",
              "SBC {{ $labels.target }}: its HA peer is unhealthy",
              "ha_remote_status is {{ $value }} (0 is healthy) for " + t["ha_peer_unhealthy_for"] + ": the "
              "pair has no healthy standby, and a failure of this node would not be taken over."),
        *two_levels("MediaServerUtilisationHigh",
                    "target_media_server:vsxi_media_server_session_utilisation:ratio", "media_utilisation",
                    "media_utilisation_for", "media",
                    "{{ $labels.target }}: media server {{ $labels.alias }} near its session limit",
                    "Media server {{ $labels.media_server }} ({{ $labels.alias }}) at {{ $value | "
                    "humanizePercentage }} of its sessions: calls needing media (transcoding, recording) fail "
                    "at 100%."),
        # --- registrations ---
        alert("RegistrationsDropping",
              f"target:vsxi_registrations:sum\n< {t['registrations_drop_ratio']} * "
              f"(target:vsxi_registrations:sum offset {t['registrations_drop_offset']})\nand "
              f"(target:vsxi_registrations:sum offset {t['registrations_drop_offset']}) >= {t['registrations_min']}",
              t["registrations_drop_for"], "warning", "sbc", "SBC {{ $labels.target }}: registrations dropping",
              "SIP registrations fell below " + f"{t['registrations_drop_ratio']:.0%}" + " of their level "
              + t["registrations_drop_offset"] + " ago (now {{ $value }})."),
    ]

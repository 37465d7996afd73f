"""The VSXi family's recording rules and alerts (thresholds: config.py beside this file)."""

from __future__ import annotations

from exporter.vsxi.monitoring.config import THRESHOLDS as T
from exporter.vsxi.status import STATUS
from mixin.config import THRESHOLDS as COMMON
from mixin.kit import HeldBaseline, Rule, alert, auth_refused, down, ratio, with_site

WINDOW_BY = "job, target, trunk_id, direction, window"
TW = "target_trunk_id_direction_window"
TRUNK_BY = "job, target, trunk_id, direction"
REGISTRATIONS = "target:vsxi_registrations:sum"
SESSIONS_MAX_1H = "target:vsxi_system_active_sessions:max1h"
SESSIONS_MAX_1D = "target:vsxi_system_active_sessions:max1d"
TRUNK_ATTEMPTS = "target_trunk_id_direction:vsxi_trunk_window_call_attempts:max15m"
# The levels before a drop, held while it lasts: the drop alerts stay true for the whole outage.
SESSIONS_BEFORE = HeldBaseline("target:vsxi_system_active_sessions:baseline", "vsxi_system_active_sessions",
                               "job, target", T["sessions_collapse_ratio"], T["sessions_collapse_offset"])
REGISTRATIONS_BEFORE = HeldBaseline("target:vsxi_registrations:baseline", REGISTRATIONS, "job, target",
                                    T["registrations_drop_ratio"], T["registrations_drop_offset"])
TRUNK_ATTEMPTS_BEFORE = HeldBaseline("target_trunk_id_direction:vsxi_trunk_window_call_attempts:baseline",
                                     TRUNK_ATTEMPTS, TRUNK_BY, T["trunk_stopped_ratio"], T["trunk_stopped_offset"])
# A trunk's alias (its name: one carrier's trunks share it across SBCs), one per trunk id.
TRUNK_ALIAS = "topk by (job, target, trunk_id) (1, vsxi_trunk_info)"


def recording_rules() -> list[Rule]:
    # The trunk-window ratios are recorded for the window the alerts read only (trunk_window): the detail
    # dashboard computes the other windows for the one SBC it shows, and a fleet's every window would cost
    # most of its series at every evaluation.
    w = f'{{window="{T["trunk_window"]}"}}'
    return [
        {"record": f"{TW}:vsxi_trunk_window_answer_seizure:ratio",
         "expr": ratio(f"vsxi_trunk_window_call_answers{w}", f"vsxi_trunk_window_call_attempts{w}", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_failure:ratio",
         "expr": ratio(f"vsxi_trunk_window_call_failures{w}", f"vsxi_trunk_window_call_attempts{w}", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean",
         "expr": ratio(f"vsxi_trunk_window_post_dial_delay_seconds{w}", f"vsxi_trunk_window_call_attempts{w}",
                       WINDOW_BY)},
        {"record": "target_direction_window:vsxi_trunk_window_answer_seizure:ratio",
         "expr": ratio(f"vsxi_trunk_window_call_answers{w}", f"vsxi_trunk_window_call_attempts{w}",
                       "job, target, direction, window")},
        {"record": "target:vsxi_system_session_utilisation:ratio",
         "expr": ratio("vsxi_system_active_sessions", "vsxi_system_session_limit", "job, target")},
        {"record": "target:vsxi_system_cps_utilisation:ratio",
         "expr": ratio("vsxi_system_calls_per_second", "vsxi_system_cps_limit", "job, target")},
        {"record": "target_trunk_id:vsxi_trunk_session_utilisation:ratio",
         "expr": ratio('vsxi_trunk_active_sessions{fqdn="Group"}', 'vsxi_trunk_session_limit{fqdn="Group"}',
                       "job, target, trunk_id")},
        {"record": "target_trunk_id:vsxi_trunk_cps_utilisation:ratio",
         "expr": ratio('vsxi_trunk_calls_per_second{fqdn="Group"}', 'vsxi_trunk_cps_limit{fqdn="Group"}',
                       "job, target, trunk_id")},
        {"record": "target_media_server:vsxi_media_server_session_utilisation:ratio",
         "expr": ratio("vsxi_media_server_active_sessions", "vsxi_media_server_session_limit",
                       "job, target, media_server, alias")},
        # 0, not nothing, when sub_stats was read and no registration is left: the series of the last
        # registrations disappear with them, and the most common outage must still page.
        {"record": REGISTRATIONS,
         "expr": "sum by (job, target) (vsxi_registrations)\nor\n"
                 "0 * sum by (job, target) (vsxi_collector_success{collector=\"sub_stats\"} == 1)"},
        {"record": "target_orig_trunk_id_term_trunk_id:vsxi_active_calls_answered:ratio",
         "expr": ratio("vsxi_active_calls_answered", "vsxi_active_calls",
                       "job, target, orig_trunk_id, term_trunk_id")},
        # A trunk's call attempts: the most its 15-minute window held over the last 15 minutes. Whether the SBC
        # slides that window or restarts it every quarter hour is not public; the maximum reads the same in
        # both cases (a restarted window's full count stays in it until the next quarter).
        {"record": TRUNK_ATTEMPTS,
         "expr": "max by (job, target, trunk_id, direction) (\n"
                 '  max_over_time(vsxi_trunk_window_call_attempts{window="15m"}[15m])\n)'},
        SESSIONS_BEFORE.rule(), REGISTRATIONS_BEFORE.rule(), TRUNK_ATTEMPTS_BEFORE.rule(),
    ]


def capacity_rules() -> list[Rule]:
    """The daily peak of active sessions, for forecasts over weeks (their own group: an interval of minutes is
    enough for figures that move by the day)."""
    return [
        {"record": SESSIONS_MAX_1H, "expr": "max by (job, target) (max_over_time(vsxi_system_active_sessions[1h]))"},
        {"record": SESSIONS_MAX_1D, "expr": f"max_over_time({SESSIONS_MAX_1H}[1d])"},
    ]


def two_levels(name: str, expr: str, threshold: str, for_: str, component: str, summary: str,
               description: str, subject: str | None = None) -> list[Rule]:
    """``expr`` above ``<threshold>_warning`` (warning) and ``<threshold>_critical`` (critical): one alert name,
    two severities (the example Alertmanager config mutes the warning under the critical)."""
    return [alert(name, f"{expr} > {T[f'{threshold}_{level}']}", T[for_], level, component, summary, description,
                  subject) for level in ("warning", "critical")]


def collapsed(t: dict) -> str:
    """Active sessions below a share of their level before the drop (held while the drop lasts), on an SBC
    that is up, not a standby and not through an HA change (its peer took the calls: VsxiXivoHaStateChanged)."""
    return (SESSIONS_BEFORE.dropped(t["sessions_collapse_min"]) +
            "\nand on (job, target) vsxi_up == 1\n"
            "unless on (job, target) vsxi_standby == 1\n"
            f'unless on (job, target) changes(vsxi_ha_state{{state="active"}}[{t["sessions_collapse_ha_grace"]}]) > 0')


def with_alias(expr: str) -> str:
    """``expr`` (series with job, target and trunk_id) carrying the trunk's alias (its name, the same for one
    carrier across SBCs) from vsxi_trunk_info, and as it is where the trunk has none."""
    return (f"(\n  ({expr})\n  * on (job, target, trunk_id) group_left (alias)\n  {TRUNK_ALIAS}\n)\n"
            f"or on (job, target, trunk_id)\n({expr})")


def trunk_quality(t: dict) -> dict[str, str]:
    """The trunk alerts' conditions on the window they read (trunk_window), each with the volume guard: ASR
    low, many failures, post-dial delay high."""
    tw = f'window="{t["trunk_window"]}"'
    guard = f'sum by ({WINDOW_BY}) (vsxi_trunk_window_call_attempts{{{tw}}}) >= {t["trunk_min_attempts"]}'
    conditions = {
        "asr": f"{TW}:vsxi_trunk_window_answer_seizure:ratio{{{tw}}} < {t['trunk_asr_low']}",
        "failures": f"{TW}:vsxi_trunk_window_failure:ratio{{{tw}}} > {t['trunk_failure_ratio_high']}",
        "pdd": f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean{{{tw}}} > {t['trunk_pdd_high_seconds']}",
    }
    return {name: f"{c}\nand on ({WINDOW_BY})\n{guard}" for name, c in conditions.items()}


def trunk_stopped(t: dict) -> str:
    """A trunk (one direction) whose calls stopped against its own level before (held while it lasts), with a
    volume guard: a trunk that carried few calls, and nights, stay quiet."""
    return (TRUNK_ATTEMPTS_BEFORE.dropped(t["trunk_stopped_min_attempts"]) +
            "\nunless on (job, target) vsxi_standby == 1")


def exhaustion(t: dict) -> str:
    """The daily peak of active sessions forecast over weeks to reach the licence, on an SBC whose peak is
    already high, with a week of daily peaks behind it (a new series reads its first day's rise as growth).
    The daily peak is read as its last value within 30 minutes: it is recorded by a group of its own, whose
    evaluations need not fall just before this alert's."""
    peak = f"last_over_time({SESSIONS_MAX_1D}[30m])"
    return (f"predict_linear({SESSIONS_MAX_1D}[{t['exhaustion_lookback']}], {t['exhaustion_horizon_days']} * 86400)"
            f"\n> on (job, target) vsxi_system_session_limit\n"
            f"and on (job, target)\n{peak}\n> on (job, target) {t['exhaustion_level_ratio']} * "
            f"vsxi_system_session_limit\nand on (job, target)\nlast_over_time({SESSIONS_MAX_1D}[30m] offset "
            f"{t['exhaustion_history']})")


def ha_changed(t: dict) -> str:
    """The node's HA role changed: its ha_current_state, or whether it answers as a standby (402). The old
    active node that becomes the standby stops reporting ha_current_state (402 to every table) and its peer
    starts; only vsxi_standby changes on both."""
    w = t["ha_change_window"]
    return (f'max by (job, target) (changes(vsxi_ha_state{{state="active"}}[{w}])) > 0\n'
            f"or\nmax by (job, target) (changes(vsxi_standby[{w}])) > 0")


def alerts() -> list[Rule]:
    t = {**COMMON, **T}
    quality = trunk_quality(t)
    return [
        alert("FirmwareAnswersDiffer",
              "vsxi_collector_unmapped_fields > 0\nor on (job, target, collector)\n"
              "sum by (job, target, collector) (vsxi_collector_unreadable_values) > 0",
              t["firmware_fields_for"], "info", "collector",
              "Device answers differ from what the exporter knows",
              "Fields the exporter cannot map (vsxi_collector_unmapped_fields), or known fields whose value it "
              "cannot read (vsxi_collector_unreadable_values), for " + t["firmware_fields_for"] + ": usually a "
              "firmware upgrade. Their data is missing from the dashboards; please report the fields.",
              subject="{{ $labels.target }} {{ $labels.collector }}"),
        # --- reachability and authentication ---
        alert("SbcUnreachable", with_site(down(STATUS)), t["device_down_for"],
              "critical", "sbc", "SBC unreachable",
              "The exporter got no stats table from {{ $labels.target }} for " + t["device_down_for"] +
              " (an HA standby answering 402 is not counted here)."),
        alert("SbcAuthFailing",
              auth_refused("vsxi", STATUS.up.name, t["auth_failing_window"], t["auth_failing_min_rounds"]), "0m",
              "critical", "sbc",
              "SBC refuses the exporter's credentials",
              "The VSXi answered 401 User Not Authorized to " + str(t["auth_failing_min_rounds"]) + " poll rounds "
              "or more in " + t["auth_failing_window"] + ", the last one included: check the username and "
              "password file of {{ $labels.target }} (the exporter does not retry, to avoid a lockout). Stays "
              "firing while logins are refused; resolves at the first round that logs in. The example "
              "Alertmanager configuration mutes the same SBC's VsxiXivoSbcUnreachable meanwhile."),
        # --- SBC capacity ---
        alert("SbcSessionUtilisationHigh",
              f"target:vsxi_system_session_utilisation:ratio > {t['session_utilisation_high']}",
              t["utilisation_for"], "warning", "sbc", "SBC near its session licence",
              "{{ $value | humanizePercentage }} of the licensed sessions are in use.", subject="{{ $labels.target }}"),
        alert("SbcSessionsPredictedExhaustion", exhaustion(t), t["exhaustion_for"], "warning", "sbc",
              "SBC will run out of licensed sessions",
              "The daily peak of active sessions, forecast from the last " + t["exhaustion_lookback"] + " of "
              "daily peaks, exceeds the licence within " + str(t["exhaustion_horizon_days"]) + " days; today's "
              "peak is already above " + f"{t['exhaustion_level_ratio']:.0%}" + " of it. Stays firing while the "
              "peaks grow that way; resolves when they level off. A morning ramp does not count: the forecast "
              "reads one figure per day.", subject="{{ $labels.target }}"),
        alert("SbcCpsUtilisationHigh", f"target:vsxi_system_cps_utilisation:ratio > {t['cps_utilisation_high']}",
              t["utilisation_for"], "warning", "sbc", "SBC near its CPS limit",
              "{{ $value | humanizePercentage }} of the licensed calls per second are in use.",
              subject="{{ $labels.target }}"),
        alert("SbcCallsRefused",
              f"delta(vsxi_system_session_limit_exceeded[{t['refused_window']}]) >= {t['refused_min_calls']}", "0m",
              "critical", "sbc", "SBC refuses calls over its session licence",
              "max_session_exceed rose by {{ $value }} in the last " + t["refused_window"] + ": calls were refused "
              "because the licensed sessions were all in use. Stays firing while refusals go on; resolves "
              + t["refused_window"] + " after fewer than " + str(t["refused_min_calls"]) + " in that window.",
              subject="{{ $labels.target }}"),
        alert("SbcCallsRefusedOverCps",
              f"delta(vsxi_system_cps_limit_exceeded[{t['refused_window']}]) >= {t['refused_min_calls']}",
              "0m", "warning", "sbc", "SBC refuses calls over its CPS limit",
              "max_cps_exceed rose by {{ $value }} in the last " + t["refused_window"] + ": call attempts arrived "
              "faster than the licensed calls per second and were refused. Stays firing while refusals go on; "
              "resolves " + t["refused_window"] + " after fewer than " + str(t["refused_min_calls"]) + " in that "
              "window.", subject="{{ $labels.target }}"),
        *two_levels("TrunkSessionUtilisationHigh",
                    "target_trunk_id:vsxi_trunk_session_utilisation:ratio", "trunk_utilisation",
                    "trunk_utilisation_for", "trunk",
                    "Trunk group near its session limit",
                    "{{ $value | humanizePercentage }} of the trunk group's session limit is in use: new "
                    "calls on it are refused at 100%.", subject="{{ $labels.target }} trunk {{ $labels.trunk_id }}"),
        *two_levels("TrunkCpsUtilisationHigh",
                    "target_trunk_id:vsxi_trunk_cps_utilisation:ratio", "trunk_cps_utilisation",
                    "trunk_cps_utilisation_for", "trunk",
                    "Trunk group near its CPS limit",
                    "Call attempts on the trunk group at {{ $value | humanizePercentage }} of its calls-per-"
                    "second limit: attempts over it are refused.",
                    subject="{{ $labels.target }} trunk {{ $labels.trunk_id }}"),
        *two_levels("SbcCpuBusy", "1 - vsxi_system_cpu_idle_ratio", "cpu_busy", "cpu_busy_for", "sbc",
                    "SBC CPU busy",
                    "The SBC's CPU has been {{ $value | humanizePercentage }} busy for " + t["cpu_busy_for"]
                    + " (cpu_idle_percent): signalling may slow down (post-dial delay) before calls fail.",
                    subject="{{ $labels.target }}"),
        alert("SbcSessionsCollapsed", collapsed(t), t["sessions_collapse_for"], "critical", "sbc",
              "SBC active sessions collapsed",
              "Active sessions fell to {{ $value }}, below " + f"{t['sessions_collapse_ratio']:.0%}" + " of their "
              "level before the drop, on an SBC that is up and did not fail over: a carrier, a peer or the core "
              "network is likely gone. Stays firing as long as sessions stay below that share of the level "
              "before the drop, however long; resolves when they are back above it.", subject="{{ $labels.target }}"),
        alert("FleetSessionsCollapsed", fleet_collapsed(t), t["sessions_collapse_for"], "critical", "sbc",
              "Active sessions collapsed on many SBCs at once",
              "{{ $value }} SBCs (at least " + str(t["fleet_collapse_min_targets"]) + " and "
              + f"{t['fleet_collapse_ratio']:.0%}" + " of those carrying traffic) lost most of their sessions "
              "together: a common cause (the core network, a shared carrier, a routing change), not each SBC. "
              "The example Alertmanager configuration mutes their own VsxiXivoSbcSessionsCollapsed under this "
              "one. Stays firing while that many stay collapsed."),
        # A restart leaves the counter below its maximum of the window; a one-poll glitch (a low value read
        # once) does not, from the next poll on.
        alert("SbcRestarted",
              f"resets(vsxi_system_session_attempts_total[{t['restart_window']}]) > 0\nand\n"
              f"vsxi_system_session_attempts_total < max_over_time(vsxi_system_session_attempts_total"
              f"[{t['restart_window']}])", t["restart_for"],
              "warning", "sbc", "SBC restarted",
              "Its session-attempt counter (sum_attempt_session) went back to zero in the last "
              + t["restart_window"] + ": the SBC's software or the node restarted. Calls up at that time were "
              "dropped unless an HA peer took them. Shown for " + t["restart_window"] + " after the restart.",
              subject="{{ $labels.target }}"),
        # --- trunk quality ---
        alert("TrunkAsrLow",
              with_alias(quality["asr"]),
              t["trunk_quality_for"], "warning", "trunk",
              "Trunk ASR low",
              "Answer-seizure ratio {{ $value | humanizePercentage }} over the last " + t["trunk_window"] + ".",
              subject="{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }})"),
        alert("TrunkFailureRatioHigh",
              with_alias(quality["failures"]),
              t["trunk_quality_for"], "warning", "trunk",
              "Trunk with many failed calls",
              "{{ $value | humanizePercentage }} of the call attempts failed over the last " + t["trunk_window"]
              + ".", subject="{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }})"),
        alert("TrunkPddHigh",
              with_alias(quality["pdd"]),
              t["trunk_quality_for"], "warning", "trunk",
              "Trunk post-dial delay high",
              "Mean post-dial delay {{ $value | humanizeDuration }} over the last " + t["trunk_window"] + ".",
              subject="{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }})"),
        alert("TrunkTrafficStopped", with_alias(trunk_stopped(t)), t["trunk_stopped_for"], "warning", "trunk",
              "Trunk calls stopped",
              "The trunk group carried {{ $value }} call attempts in its last 15-minute window, below "
              + f"{t['trunk_stopped_ratio']:.0%}" + " of its level before the drop (at least "
              + str(t["trunk_stopped_min_attempts"]) + " then): a carrier that stopped sending or taking calls, "
              "or a routing change. Stays firing until the calls come back above that share; a trunk that "
              "carried fewer calls, and a night's slow decline, stay quiet.",
              subject="{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }})"),
        alert("CarrierDegraded", carrier_degraded(t), t["trunk_quality_for"], "warning", "trunk",
              "Carrier degraded on several SBCs",
              "Trunks named {{ $labels.alias }} on {{ $value }} SBCs (at least "
              + str(t["carrier_min_targets"]) + ") have low ASR, many failures, a long post-dial delay or "
              "stopped calls at once: the carrier behind them, not each SBC. The example Alertmanager "
              "configuration mutes those trunks' own alerts under this one."),
        # --- media and HA ---
        alert("MediaServerDown", "vsxi_media_server_up == 0", t["media_server_down_for"], "critical", "media",
              "Media server down",
              "Media server {{ $labels.media_server }} ({{ $labels.alias }}) does not report status up.",
              subject="{{ $labels.target }}"),
        alert("HaStateChanged", ha_changed(t), "0m", "warning", "sbc", "SBC changed HA state",
              "The node's HA role changed in the last " + t["ha_change_window"] + " (its ha_current_state, or "
              "it started or stopped answering as the standby): check the failover. Fires on both nodes of a "
              "failover, whichever way their series end and start; resolves " + t["ha_change_window"] +
              " after the last change.", subject="{{ $labels.target }}"),
        alert("HaLocalUnhealthy",
              'vsxi_ha_local_status != 0\nand on (job, target)\n(vsxi_ha_state{state=~"active|standby"} == 1)',
              t["ha_peer_unhealthy_for"], "warning", "sbc", "SBC's own HA status unhealthy",
              "ha_local_status is {{ $value }} (0 is healthy) for " + t["ha_peer_unhealthy_for"] + " on a node of "
              "an HA pair: the node itself reports a fault of its HA function, and a failover may not work. "
              "Stays firing while the status is not 0.", subject="{{ $labels.target }}"),
        alert("SbcFlowControlActive", "vsxi_system_flow_control_level > 0", t["flow_control_for"], "warning", "sbc",
              "SBC throttles calls (flow control)",
              "flow_control_lev has been {{ $value }} (0 is none) for " + t["flow_control_for"] + ": the SBC "
              "throttles new call attempts to protect itself, so callers see failures or delay. Stays firing "
              "while the level is above 0.", subject="{{ $labels.target }}"),
        alert("HaBothNodesActive",
              'count by (ha_group) (\n  (vsxi_ha_state{state="active"} == 1)\n  * on (job, target) '
              "group_left (ha_group) vsxi_target_info\n) > 1",
              "1m", "critical", "sbc", "HA pair with both nodes active",
              "Two SBCs of HA group {{ $labels.ha_group }} report ha_current_state active (split brain)."),
        alert("HaPeerUnhealthy",
              'vsxi_ha_remote_status != 0\nand on (job, target)\n(vsxi_ha_state{state=~"active|standby"} == 1)',
              t["ha_peer_unhealthy_for"], "warning", "sbc",
              "SBC's HA peer unhealthy",
              "ha_remote_status is {{ $value }} (0 is healthy) for " + t["ha_peer_unhealthy_for"] + ": the "
              "pair has no healthy standby, and a failure of this node would not be taken over.",
              subject="{{ $labels.target }}"),
        *two_levels("MediaServerUtilisationHigh",
                    "target_media_server:vsxi_media_server_session_utilisation:ratio", "media_utilisation",
                    "media_utilisation_for", "media",
                    "Media server near its session limit",
                    "Media server {{ $labels.media_server }} ({{ $labels.alias }}) at {{ $value | "
                    "humanizePercentage }} of its sessions: calls needing media (transcoding, recording) fail "
                    "at 100%.", subject="{{ $labels.target }}"),
        # --- registrations ---
        alert("RegistrationsDropping",
              REGISTRATIONS_BEFORE.dropped(t["registrations_min"]),
              t["registrations_drop_for"], "warning", "sbc", "SBC registrations dropping",
              "SIP registrations fell to {{ $value }}, below " + f"{t['registrations_drop_ratio']:.0%}" + " of "
              "their level before the drop. Stays firing as long as they stay below that share, however long; "
              "resolves when they are back above it.", subject="{{ $labels.target }}"),
    ]


def fleet_collapsed(t: dict) -> str:
    """Many SBCs collapsed together: the count of SBCs collapsed, one series for the fleet."""
    collapsed_ = f"count (\n{collapsed(t)}\n)"
    carrying = f"count ({SESSIONS_BEFORE.record} >= {t['sessions_collapse_min']})"
    return (f"{collapsed_}\n>= {t['fleet_collapse_min_targets']}\nand\n{collapsed_}\n/ {carrying}\n"
            f">= {t['fleet_collapse_ratio']}")


def carrier_degraded(t: dict) -> str:
    """One trunk alias (a carrier's name, the same on every SBC) degraded on several SBCs at once: one of the
    trunk alerts' conditions, or its calls stopped."""
    per_trunk = "\nor on (job, target, trunk_id)\n".join(
        f"group by (job, target, trunk_id) (\n{c}\n)" for c in (*trunk_quality(t).values(), trunk_stopped(t)))
    # SBCs, not trunks: two trunk groups of one name on one SBC count once.
    return (f"count by (alias) (group by (job, target, alias) (\n  ({per_trunk})\n"
            f"  * on (job, target, trunk_id) group_left (alias)\n  {TRUNK_ALIAS}\n)) >= {t['carrier_min_targets']}")

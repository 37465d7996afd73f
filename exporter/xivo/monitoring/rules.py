"""The XiVO family's recording rules and alerts (thresholds: config.py beside this file)."""

from __future__ import annotations

from exporter.xivo.monitoring.config import THRESHOLDS as T
from exporter.xivo.status import STATUS
from mixin.config import THRESHOLDS as COMMON
from mixin.kit import HeldBaseline, Rule, alert, auth_refused, down, ratio, with_site

PEERS = "target:xivo_sip_peers_reachable:sum"
# The reachable peers before a drop, held while it lasts.
PEERS_BEFORE = HeldBaseline("target:xivo_sip_peers_reachable:baseline", PEERS, "job, target",
                            T["sip_peers_drop_ratio"], T["sip_peers_drop_offset"])
Q = "job, target, queue"
SERVICE_LEVEL = "target_queue:xivo_queue_service_level:ratio1h"


def recording_rules() -> list[Rule]:
    return [
        {"record": "target:xivo_sip_peers_reachable:ratio",
         "expr": ratio('xivo_sip_peers{status=~"ok|lagged"}', "xivo_sip_peers", "job, target")},
        # Abandoned of offered (answered + abandoned) over the window: the counters are since the queue's
        # last reset, so the ratio of their increases is today's, not the day's since the last reload.
        {"record": f"target_queue:xivo_queue_calls_abandoned:ratio_rate{T['queue_window']}",
         "expr": ratio(f"increase(xivo_queue_calls_abandoned_total[{T['queue_window']}])",
                       f"increase(xivo_queue_calls_abandoned_total[{T['queue_window']}])\n"
                       f"+ increase(xivo_queue_calls_completed_total[{T['queue_window']}])", "job, target, queue")},
        # Reachable SIP peers; 0, not nothing, when the PBX reports peers and none is reachable.
        {"record": PEERS,
         "expr": 'sum by (job, target) (xivo_sip_peers{status=~"ok|lagged"})\nor\n'
                 "0 * sum by (job, target) (xivo_sip_peers)"},
        PEERS_BEFORE.rule(),
        {"record": SERVICE_LEVEL, "expr": service_level_1h()},
    ]


def service_level_1h() -> str:
    """The service level of the last hour: of the calls answered in it, the share answered within the queue's
    target. Asterisk's ServiceLevelPerf is the share since the queue's last reset, so the calls within target
    since then are ratio x completed; their rise over the hour over the completed calls' rise is the hour's
    share. Not given for an hour with a reset or a reload (the counters went back), nor without calls; clamped
    to 0-1 and rounded to 0.1 %, the precision of Asterisk's own figure."""
    within = f"(xivo_queue_service_level_ratio * on ({Q}) xivo_queue_calls_completed_total)"
    before = f"(xivo_queue_service_level_ratio offset 1h * on ({Q}) xivo_queue_calls_completed_total offset 1h)"
    answered = "(xivo_queue_calls_completed_total - xivo_queue_calls_completed_total offset 1h)"
    share = f"({within} - on ({Q}) {before})\n  / on ({Q})\n  ({answered} > 0)"
    reset = "resets(xivo_queue_calls_completed_total[1h]) > 0"
    return f"round(clamp(\n  {share},\n  0, 1\n), 0.001)\nunless on ({Q})\n{reset}"


def queue_offered(window: str) -> str:
    return (f"sum by (job, target, queue) (\n  increase(xivo_queue_calls_abandoned_total[{window}])\n"
            f"  + increase(xivo_queue_calls_completed_total[{window}])\n)")


def alerts() -> list[Rule]:
    t = {**COMMON, **T}
    return [
        # --- reachability and authentication ---
        alert("PbxUnreachable", with_site(down(STATUS)), t["device_down_for"], "critical", "pbx",
              "PBX unreachable or refusing the exporter",
              "No collector of {{ $labels.target }} succeeded for " + t["device_down_for"] + "."),
        alert("PbxAuthFailing",
              auth_refused("xivo", STATUS.up.name, t["auth_failing_window"], t["auth_failing_min_rounds"]), "0m",
              "critical", "pbx",
              "PBX authentication failing",
              "auth_failed: xivo-auth refused the credentials or backend. auth_unavailable: xivo-auth is down "
              "while the PBX may be fine. In " + str(t["auth_failing_min_rounds"]) + " poll rounds or more of "
              "the last " + t["auth_failing_window"] + ", the last one included. Stays firing while every round "
              "fails to authenticate; resolves at the first round that does. The example Alertmanager "
              "configuration mutes the same PBX's VsxiXivoPbxUnreachable meanwhile.",
              subject="{{ $labels.target }} ({{ $labels.reason }})"),
        alert("QueueUnstaffed",
              f"xivo_queue_callers > 0\nand on ({Q})\n(\n  xivo_queue_agents_logged_in == 0\n  or on ({Q})\n"
              f"  sum by ({Q}) (xivo_queue_member_paused) >= on ({Q}) xivo_queue_agents_logged_in > 0\n)",
              t["queue_unstaffed_for"], "warning", "queue",
              "Callers waiting in a queue nobody staffs",
              "{{ $value }} callers wait in queue {{ $labels.queue }} and no member is logged in, or every "
              "member logged in is paused. A queue whose members are all on calls is busy, not unstaffed: that "
              "is VsxiXivoQueueWaitLong's. Stays firing while callers wait with nobody to answer.",
              subject="{{ $labels.target }}"),
        alert("QueueWaitLong",
              f"xivo_queue_longest_hold_seconds\n> on ({Q}) {t['queue_wait_target_factor']} * "
              f"xivo_queue_service_level_target_seconds\nand on ({Q})\nxivo_queue_service_level_target_seconds > 0",
              t["queue_wait_for"], "warning", "queue",
              "Callers wait far beyond the queue's target",
              "The longest caller in queue {{ $labels.queue }} has waited {{ $value | humanizeDuration }}, more "
              "than " + f"{t['queue_wait_target_factor']:g}" + " times the queue's own service-level target "
              "(QueueParams ServiceLevel), for " + t["queue_wait_for"] + ". Stays firing while callers wait "
              "that long; resolves when the longest wait is back under it.", subject="{{ $labels.target }}"),
        alert("QueueFull",
              f"xivo_queue_callers\n>= on ({Q}) xivo_queue_max_callers\nand on ({Q})\nxivo_queue_max_callers > 0",
              t["queue_full_for"], "warning", "queue",
              "Queue full",
              "{{ $value }} callers fill queue {{ $labels.queue }} to its maximum (QueueParams Max): further "
              "callers are not queued (they get the queue's full destination or a busy tone). Stays firing while "
              "the queue is full.", subject="{{ $labels.target }}"),
        alert("QueueServiceLevelLow",
              f"{SERVICE_LEVEL} < {t['queue_service_level_target']}\n"
              f"and on ({Q})\nincrease(xivo_queue_calls_completed_total[1h]) >= {t['queue_min_calls']}",
              t["queue_service_level_for"], "warning", "queue",
              "Queue below its service level",
              "{{ $value | humanizePercentage }} of the calls answered in queue {{ $labels.queue }} over the last "
              "hour were answered within its target time, below " + f"{t['queue_service_level_target']:.0%}" +
              " for " + t["queue_service_level_for"] + ". The hour's own share, not Asterisk's since the last "
              "reset (which moves slowly once thousands of calls are counted). Stays firing while the last hour "
              "stays below; resolves once it is back above, within the hour after the queue recovers.",
              subject="{{ $labels.target }}"),
        alert("QueueAbandonRatioHigh",
              f"target_queue:xivo_queue_calls_abandoned:ratio_rate{t['queue_window']} > "
              f"{t['queue_abandon_ratio_high']}\nand on (job, target, queue)\n"
              f"{queue_offered(t['queue_window'])} >= {t['queue_min_calls']}",
              t["queue_abandon_for"], "warning", "queue",
              "Callers abandoning a queue",
              "{{ $value | humanizePercentage }} of the callers of queue {{ $labels.queue }} hung up before an "
              "answer over the last " + t["queue_window"] + " (threshold "
              + f"{t['queue_abandon_ratio_high']:.0%}" + ").", subject="{{ $labels.target }}"),
        alert("SipPeersLost",
              PEERS_BEFORE.dropped(t["sip_peers_min"]),
              t["sip_peers_drop_for"], "warning", "pbx", "PBX SIP peers lost",
              "Reachable SIP peers fell to {{ $value }}, below " + f"{t['sip_peers_drop_ratio']:.0%}" + " of their "
              "level before the drop. Stays firing as long as they stay below that share, however long; resolves "
              "when they are back above it.", subject="{{ $labels.target }}"),
        alert("TrunkRegistrationLost", "xivo_trunk_registered == 0", t["trunk_registration_lost_for"],
              "critical", "trunk", "PBX trunk not registered",
              "The registration of trunk {{ $labels.trunk }} has been down for "
              + t["trunk_registration_lost_for"] + ": outgoing and incoming calls on it fail.",
              subject="{{ $labels.target }}"),
        alert("SipTrunkUnreachable", 'xivo_sip_trunk_status{status="unreachable"} == 1',
              t["sip_trunk_unreachable_for"], "critical", "trunk",
              "PBX SIP trunk unreachable",
              "Asterisk's qualify (OPTIONS) pings to trunk {{ $labels.trunk }} have gone unanswered for "
              + t["sip_trunk_unreachable_for"] + ": calls through it fail.", subject="{{ $labels.target }}"),
        alert("SipTrunkLagged",
              f"xivo_sip_trunk_qualify_rtt_seconds > {t['sip_trunk_rtt_high_seconds']}\n"
              'or on (job, target, trunk)\n(max without (status) (xivo_sip_trunk_status{status="lagged"}) == 1)',
              t["sip_trunk_lagged_for"], "warning", "trunk",
              "PBX SIP trunk answers slowly",
              "Trunk {{ $labels.trunk }} answers Asterisk's qualify pings late (LAGGED, or a round trip over "
              + f"{t['sip_trunk_rtt_high_seconds']:g}" + " s) for " + t["sip_trunk_lagged_for"]
              + ": expect post-dial delay and one-way audio before failures.", subject="{{ $labels.target }}"),
        alert("PbxRestarted", f"changes(xivo_core_startup_timestamp_seconds[{t['restart_window']}]) > 0", "0m",
              "warning", "pbx", "PBX restarted",
              "Asterisk's start-up time (amid CoreStatus) changed in the last " + t["restart_window"] + ": the "
              "PBX or its telephony engine restarted, and the calls up then were cut.", subject="{{ $labels.target }}"),
        alert("PbxReloaded",
              f"changes(xivo_core_reload_timestamp_seconds[{t['restart_window']}]) > 0\n"
              f"unless on (job, target)\nchanges(xivo_core_startup_timestamp_seconds[{t['restart_window']}]) > 0",
              "0m", "info", "pbx", "PBX reloaded its configuration",
              "Asterisk's last reload time (amid CoreStatus) changed in the last " + t["restart_window"] + ": "
              "a configuration change was applied (calls stay up). Outside a change window, find who changed "
              "what.", subject="{{ $labels.target }}"),
        alert("DevicesNotConfigured", 'xivo_devices{status="not_configured"} > 0',
              t["devices_not_configured_for"], "info", "pbx",
              "PBX devices not configured",
              "Phones known to provd but not configured for " + t["devices_not_configured_for"] + ".",
              subject="{{ $labels.target }} ({{ $value }} devices)"),
    ]

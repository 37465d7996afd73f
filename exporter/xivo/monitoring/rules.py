"""The XiVO family's recording rules and alerts (thresholds: config.py beside this file)."""

from __future__ import annotations

from exporter.xivo.monitoring.config import THRESHOLDS as T
from exporter.xivo.status import STATUS
from mixin.config import THRESHOLDS as COMMON
from mixin.kit import Rule, alert, down, ratio, with_site


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
    ]


def queue_offered(window: str) -> str:
    return (f"sum by (job, target, queue) (\n  increase(xivo_queue_calls_abandoned_total[{window}])\n"
            f"  + increase(xivo_queue_calls_completed_total[{window}])\n)")


def alerts() -> list[Rule]:
    t = {**COMMON, **T}
    return [
        # --- reachability and authentication ---
        alert("PbxUnreachable", with_site(down(STATUS)), t["device_down_for"], "critical", "pbx",
              "PBX {{ $labels.target }} unreachable or refusing the exporter",
              "No collector of {{ $labels.target }} succeeded for " + t["device_down_for"] + "."),
        alert("PbxAuthFailing",
              f'increase(vsxi_xivo_exporter_auth_failures_total{{family="xivo"}}[{t["auth_failing_window"]}]) > 0',
              "0m", "critical", "pbx", "PBX {{ $labels.target }}: authentication failing ({{ $labels.reason }})",
              "auth_failed: xivo-auth refused the credentials or backend. auth_unavailable: xivo-auth is down "
              "while the PBX may be fine."),
        alert("QueueCallersNoAgent", "xivo_queue_callers > 0\nand on (job, target, queue)\n"
              "xivo_queue_agents_available == 0", t["queue_no_agent_for"], "warning", "queue",
              "{{ $labels.target }}: callers waiting in {{ $labels.queue }} and no agent available",
              "{{ $value }} callers wait in queue {{ $labels.queue }} with no available member."),
        alert("QueueServiceLevelLow",
              f"xivo_queue_service_level_ratio < {t['queue_service_level_target']}\n"
              f"and on (job, target, queue)\n{queue_offered('1h')} >= {t['queue_min_calls']}",
              t["queue_service_level_for"], "warning", "queue",
              "{{ $labels.target }}: queue {{ $labels.queue }} below its service level",
              "{{ $value | humanizePercentage }} of the calls answered in queue {{ $labels.queue }} were answered "
              "within its target time, below " + f"{t['queue_service_level_target']:.0%}" + " for "
              + t["queue_service_level_for"] + "."),
        alert("QueueAbandonRatioHigh",
              f"target_queue:xivo_queue_calls_abandoned:ratio_rate{t['queue_window']} > "
              f"{t['queue_abandon_ratio_high']}\nand on (job, target, queue)\n"
              f"{queue_offered(t['queue_window'])} >= {t['queue_min_calls']}",
              t["queue_abandon_for"], "warning", "queue",
              "{{ $labels.target }}: callers abandoning queue {{ $labels.queue }}",
              "{{ $value | humanizePercentage }} of the callers of queue {{ $labels.queue }} hung up before an "
              "answer over the last " + t["queue_window"] + " (threshold "
              + f"{t['queue_abandon_ratio_high']:.0%}" + ")."),
        alert("SipPeersLost",
              f'sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}})\n< {t["sip_peers_drop_ratio"]} * '
              f'sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}} offset {t["sip_peers_drop_offset"]})'
              f'\nand sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}} offset '
              f'{t["sip_peers_drop_offset"]}) >= {t["sip_peers_min"]}',
              t["sip_peers_drop_for"], "warning", "pbx", "PBX {{ $labels.target }}: SIP peers lost",
              "Reachable SIP peers fell below " + f"{t['sip_peers_drop_ratio']:.0%}" + " of their level "
              + t["sip_peers_drop_offset"] + " ago."),
        alert("TrunkRegistrationLost", "xivo_trunk_registered == 0", t["trunk_registration_lost_for"],
              "critical", "trunk", "PBX {{ $labels.target }}: trunk {{ $labels.trunk }} not registered",
              "The registration of trunk {{ $labels.trunk }} has been down for "
              + t["trunk_registration_lost_for"] + ": outgoing and incoming calls on it fail."),
        alert("SipTrunkUnreachable", 'xivo_sip_trunk_status{status="unreachable"} == 1',
              t["sip_trunk_unreachable_for"], "critical", "trunk",
              "PBX {{ $labels.target }}: SIP trunk {{ $labels.trunk }} unreachable",
              "Asterisk's qualify (OPTIONS) pings to trunk {{ $labels.trunk }} have gone unanswered for "
              + t["sip_trunk_unreachable_for"] + ": calls through it fail."),
        alert("SipTrunkLagged",
              f"xivo_sip_trunk_qualify_rtt_seconds > {t['sip_trunk_rtt_high_seconds']}\n"
              'or on (job, target, trunk)\n(max without (status) (xivo_sip_trunk_status{status="lagged"}) == 1)',
              t["sip_trunk_lagged_for"], "warning", "trunk",
              "PBX {{ $labels.target }}: SIP trunk {{ $labels.trunk }} answers slowly",
              "Trunk {{ $labels.trunk }} answers Asterisk's qualify pings late (LAGGED, or a round trip over "
              + f"{t['sip_trunk_rtt_high_seconds']:g}" + " s) for " + t["sip_trunk_lagged_for"]
              + ": expect post-dial delay and one-way audio before failures."),
        alert("PbxRestarted", f"changes(xivo_core_startup_timestamp_seconds[{t['restart_window']}]) > 0", "0m",
              "warning", "pbx", "PBX {{ $labels.target }}: Asterisk restarted",
              "Asterisk's start-up time (amid CoreStatus) changed in the last " + t["restart_window"] + ": the "
              "PBX or its telephony engine restarted, and the calls up then were cut."),
        alert("PbxReloaded",
              f"changes(xivo_core_reload_timestamp_seconds[{t['restart_window']}]) > 0\n"
              f"unless on (job, target)\nchanges(xivo_core_startup_timestamp_seconds[{t['restart_window']}]) > 0",
              "0m", "info", "pbx", "PBX {{ $labels.target }}: Asterisk reloaded its configuration",
              "Asterisk's last reload time (amid CoreStatus) changed in the last " + t["restart_window"] + ": "
              "a configuration change was applied (calls stay up). Outside a change window, find who changed "
              "what."),
        alert("DevicesNotConfigured", 'xivo_devices{status="not_configured"} > 0',
              t["devices_not_configured_for"], "info", "pbx",
              "PBX {{ $labels.target }}: {{ $value }} devices not configured",
              "Phones known to provd but not configured for " + t["devices_not_configured_for"] + "."),
    ]

"""Recording rules and alerts, generated from the thresholds in config.py.

Recording rules follow ``level:metric:operations``; ratios are sum(numerator) / sum(denominator) with empty
denominators filtered out (no NaN, no +Inf). Every alert carries ``severity`` (critical, warning, info) and
``component`` (exporter, site, sbc, pbx, trunk, collector, media, queue): the example Alertmanager config inhibits
on them. ``job`` is kept in every aggregation so dashboards can still filter by it.
"""

from __future__ import annotations

from exporter.registry import FAMILIES
from mixin.config import EXPORTER_JOB_SELECTOR, PROBE_JOB_SELECTOR, RUNBOOK_URL, SITE_LABEL
from mixin.config import THRESHOLDS as T

WINDOW_BY = "job, target, trunk_id, direction, window"
TW = "target_trunk_id_direction_window"


def _ratio(num: str, den: str, by: str) -> str:
    return f"sum by ({by}) ({num})\n/\n(sum by ({by}) ({den}) > 0)"


def recording_rules() -> list[dict]:
    return [
        {"record": f"{TW}:vsxi_trunk_window_answer_seizure:ratio",
         "expr": _ratio("vsxi_trunk_window_call_answers", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_failure:ratio",
         "expr": _ratio("vsxi_trunk_window_call_failures", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean",
         "expr": _ratio("vsxi_trunk_window_post_dial_delay_seconds", "vsxi_trunk_window_call_attempts", WINDOW_BY)},
        {"record": f"{TW}:vsxi_trunk_window_call_duration_seconds:mean",
         "expr": _ratio("vsxi_trunk_window_call_duration_seconds", "vsxi_trunk_window_call_answers", WINDOW_BY)},
        {"record": "target_direction_window:vsxi_trunk_window_answer_seizure:ratio",
         "expr": _ratio("vsxi_trunk_window_call_answers", "vsxi_trunk_window_call_attempts",
                        "job, target, direction, window")},
        {"record": "target:vsxi_system_session_utilisation:ratio",
         "expr": _ratio("vsxi_system_active_sessions", "vsxi_system_session_limit", "job, target")},
        {"record": "target:vsxi_system_cps_utilisation:ratio",
         "expr": _ratio("vsxi_system_calls_per_second", "vsxi_system_cps_limit", "job, target")},
        {"record": "target_trunk_id:vsxi_trunk_session_utilisation:ratio",
         "expr": _ratio('vsxi_trunk_active_sessions{fqdn="Group"}', 'vsxi_trunk_session_limit{fqdn="Group"}',
                        "job, target, trunk_id")},
        # 0, not nothing, when sub_stats was read and no registration is left: the series of the last
        # registrations disappear with them, and the most common outage must still page.
        {"record": "target:vsxi_registrations:sum",
         "expr": "sum by (job, target) (vsxi_registrations)\nor\n"
                 "0 * sum by (job, target) (vsxi_collector_success{collector=\"sub_stats\"} == 1)"},
        {"record": "target_orig_trunk_id_term_trunk_id:vsxi_active_calls_answered:ratio",
         "expr": _ratio("vsxi_active_calls_answered", "vsxi_active_calls",
                        "job, target, orig_trunk_id, term_trunk_id")},
        {"record": "target:xivo_sip_peers_reachable:ratio",
         "expr": _ratio('xivo_sip_peers{status=~"ok|lagged"}', "xivo_sip_peers", "job, target")},
        # Abandoned of offered (answered + abandoned) over the window: the counters are since the queue's
        # last reset, so the ratio of their increases is today's, not the day's since the last reload.
        {"record": f"target_queue:xivo_queue_calls_abandoned:ratio_rate{T['queue_window']}",
         "expr": _ratio(f"increase(xivo_queue_calls_abandoned_total[{T['queue_window']}])",
                        f"increase(xivo_queue_calls_abandoned_total[{T['queue_window']}])\n"
                        f"+ increase(xivo_queue_calls_completed_total[{T['queue_window']}])", "job, target, queue")},
    ]


def _queue_offered(window: str) -> str:
    return (f"sum by (job, target, queue) (\n  increase(xivo_queue_calls_abandoned_total[{window}])\n"
            f"  + increase(xivo_queue_calls_completed_total[{window}])\n)")


def _alert(name: str, expr: str, for_: str, severity: str, component: str, summary: str,
           description: str) -> dict:
    rule = {"alert": f"VsxiXivo{name}", "expr": expr}
    if for_ != "0m":
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "component": component}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": f"{RUNBOOK_URL}#{rule['alert'].lower()}"}
    return rule


SBC_DOWN = "vsxi_up == 0 unless on (job, target) vsxi_standby == 1"
SITE_OF = f"group by (job, target, {SITE_LABEL}) (vsxi_xivo_target_info)"


def _per_family(series: int, condition: str, joiner: str, unless_on: str = " ") -> str:
    """``condition`` (``{}``: the series) on one of the four common collector series (StatusSpecs.common, by
    position) of every registered family, joined by ``joiner``: a new family's collectors get the alert too. A
    family with a standby flag leaves its standby nodes out (an HA standby refuses polls by design), the
    ``unless`` after ``unless_on``."""
    parts = []
    for family in FAMILIES.values():
        cond = condition.format(family.status.common[series].name)
        standby = family.status.standby
        parts.append(cond if standby is None else f"({cond}{unless_on}unless on (job, target) {standby.name} == 1)")
    return joiner.join(parts)


def _with_site(down: str) -> str:
    """``down`` (series with job and target) carrying the target's site label from vsxi_xivo_target_info, and
    as it is where that series is missing (an older exporter)."""
    return (f"(\n  ({down})\n  * on (job, target) group_left ({SITE_LABEL})\n  {SITE_OF}\n)\n"
            f"or on (job, target)\n({down})")


def _site_down(t: dict) -> str:
    """A site (or, for targets without one, a job) with many devices down at once: one series per site."""
    down = (f"count by (job, {SITE_LABEL}) (\n  (({SBC_DOWN}) or xivo_up == 0)\n"
            f"  * on (job, target) group_left ({SITE_LABEL})\n  {SITE_OF}\n)")
    # The count first: it is the alert's value.
    return (f"{down}\n>= {t['site_down_min_targets']}\nand\n"
            f"{down}\n/\ncount by (job, {SITE_LABEL}) ({SITE_OF})\n>= {t['site_down_ratio']}")


def alerts() -> list[dict]:
    t = T
    tw = f'window="{t["trunk_window"]}"'
    guard = f'sum by ({WINDOW_BY}) (vsxi_trunk_window_call_attempts{{{tw}}}) >= {t["trunk_min_attempts"]}'
    # Probe targets (instance = the device name) the exporter refused lately as not configured there.
    refused = ('label_replace(\n  time() - max by (target) '
               '(vsxi_xivo_exporter_probe_unknown_target_last_timestamp_seconds)'
               f'\n  < {t["probe_unknown_recent_seconds"]},\n  "instance", "$1", "target", "(.*)"\n)')
    return [
        # --- the exporter itself ---
        _alert("ExporterDown", f"up{{{EXPORTER_JOB_SELECTOR}}} == 0", t["exporter_down_for"], "critical",
               "exporter", "vsxi-xivo-exporter is down",
               "Prometheus cannot scrape the exporter {{ $labels.instance }}: no SBC or PBX is monitored through "
               "it."),
        _alert("ConfigReloadFailed", "vsxi_xivo_exporter_config_last_reload_successful == 0",
               t["config_broken_for"], "warning", "exporter",
               "vsxi-xivo-exporter {{ $labels.instance }} refused its configuration file",
               "The last reload (SIGHUP or POST /-/reload) found the configuration invalid: the exporter runs "
               "the previous one, and the change is not in force. Its log names the file and the key."),
        _alert("InventoryFileNotApplied", "vsxi_xivo_exporter_inventory_file_ok == 0",
               t["config_broken_for"], "warning", "exporter",
               "vsxi-xivo-exporter {{ $labels.instance }} cannot apply inventory file {{ $labels.file }}",
               "The inventory file could not be read or checked: its last good targets are kept, and the "
               "devices it adds, changes or removes are not. Its log names the entry and the problem."),
        _alert("ProbeTargetUnknown", f"up{{{PROBE_JOB_SELECTOR}}} == 0\nand on (instance)\n{refused}",
               t["probe_failing_for"], "warning", "exporter",
               "Probe target {{ $labels.instance }} is not configured in the exporter",
               "Job {{ $labels.job }} probes {{ $labels.instance }}, and the exporter answers 400: the name is not "
               "in its configuration (or, with --config.shard, the probe is routed to a replica that does not poll "
               "it). The exporter itself is up; no device alert is muted by this."),
        _alert("ProbeFailing", f"up{{{PROBE_JOB_SELECTOR}}} == 0\nunless on (instance)\n{refused}",
               t["probe_failing_for"], "warning", "exporter",
               "Cannot probe {{ $labels.instance }} through the exporter",
               "Job {{ $labels.job }} gets no answer from the exporter for device {{ $labels.instance }}: the "
               "exporter is down, unreachable, or slower than the scrape timeout. VsxiXivoExporterDown tells "
               "whether the exporter itself is down."),
        # An HA standby answers 402 to every table (vsxi_standby 1): healthy, its collectors fail by design.
        _alert("CollectorFailing", _per_family(0, "{} == 0", "\nor "),
               t["collector_failing_for"], "warning", "collector",
               "{{ $labels.target }}: collector {{ $labels.collector }} failing",
               "The {{ $labels.collector }} poll of {{ $labels.target }} has failed for "
               f"{t['collector_failing_for']}; the reason is in vsxi_xivo_exporter_poll_errors_total and on "
               "the exporter's landing page."),
        _alert("FirmwareAnswersDiffer",
               "vsxi_collector_unmapped_fields > 0\nor on (job, target, collector)\n"
               "sum by (job, target, collector) (vsxi_collector_unreadable_values) > 0",
               t["firmware_fields_for"], "info", "collector",
               "{{ $labels.target }}: {{ $labels.collector }} answers differ from what the exporter knows",
               "Fields the exporter cannot map (vsxi_collector_unmapped_fields), or known fields whose value it "
               "cannot read (vsxi_collector_unreadable_values), for " + t["firmware_fields_for"] + ": usually a "
               "firmware upgrade. Their data is missing from the dashboards; please report the fields."),
        _alert("DataStale",
               _per_family(1, "time() - {} > " + str(t["data_stale_seconds"]), "\nor\n", unless_on="\n"),
               "0m", "warning", "collector", "{{ $labels.target }}: {{ $labels.collector }} data is stale",
               "No successful poll of {{ $labels.collector }} on {{ $labels.target }} for "
               "{{ $value | humanizeDuration }}; its series have been dropped."),
        # --- reachability and authentication ---
        _alert("SiteUnreachable", _site_down(t), t["device_down_for"], "critical", "site",
               "{{ $value }} devices unreachable at " + SITE_LABEL + " '{{ $labels." + SITE_LABEL + " }}'",
               "{{ $value }} SBCs and PBXs of " + SITE_LABEL + " '{{ $labels." + SITE_LABEL + " }}' (job "
               "{{ $labels.job }}; an empty " + SITE_LABEL + ": the targets without one) are down at once for " +
               t["device_down_for"] + ", at least " + str(t["site_down_min_targets"]) + " and " +
               f"{t['site_down_ratio']:.0%}" + " of them: more likely a site, link or network outage than that "
               "many device faults. Their own unreachable alerts carry the " + SITE_LABEL + " label, for "
               "Alertmanager to mute under this one; the exporter's landing page lists them with their reasons."),
        _alert("SbcUnreachable", _with_site(SBC_DOWN), t["device_down_for"],
               "critical", "sbc", "SBC {{ $labels.target }} unreachable",
               "The exporter got no stats table from {{ $labels.target }} for " + t["device_down_for"] +
               " (an HA standby answering 402 is not counted here)."),
        _alert("SbcAuthFailing",
               f'increase(vsxi_xivo_exporter_auth_failures_total{{family="vsxi"}}[{t["auth_failing_window"]}]) > 0',
               "0m", "critical", "sbc", "SBC {{ $labels.target }} refuses the exporter's credentials",
               "The VSXi answered 401 User Not Authorized: check the username and password file of "
               "{{ $labels.target }} (the exporter does not retry, to avoid a lockout)."),
        _alert("PbxUnreachable", _with_site("xivo_up == 0"), t["device_down_for"], "critical", "pbx",
               "PBX {{ $labels.target }} unreachable or refusing the exporter",
               "No collector of {{ $labels.target }} succeeded for " + t["device_down_for"] + "."),
        _alert("PbxAuthFailing",
               f'increase(vsxi_xivo_exporter_auth_failures_total{{family="xivo"}}[{t["auth_failing_window"]}]) > 0',
               "0m", "critical", "pbx", "PBX {{ $labels.target }}: authentication failing ({{ $labels.reason }})",
               "auth_failed: xivo-auth refused the credentials or backend. auth_unavailable: xivo-auth is down "
               "while the PBX may be fine."),
        # --- SBC capacity ---
        _alert("SbcSessionUtilisationHigh",
               f"target:vsxi_system_session_utilisation:ratio > {t['session_utilisation_high']}",
               t["utilisation_for"], "warning", "sbc", "SBC {{ $labels.target }} near its session licence",
               "{{ $value | humanizePercentage }} of the licensed sessions are in use."),
        _alert("SbcSessionsPredictedExhaustion",
               f"predict_linear(vsxi_system_active_sessions[{t['exhaustion_lookback']}], "
               f"{t['exhaustion_horizon_seconds']})\n> on (job, target) vsxi_system_session_limit",
               t["exhaustion_for"], "warning", "sbc",
               "SBC {{ $labels.target }} will run out of licensed sessions",
               f"At the trend of the last {t['exhaustion_lookback']}, active sessions exceed the licence within "
               f"{t['exhaustion_horizon_seconds'] // 3600} h."),
        _alert("SbcCpsUtilisationHigh", f"target:vsxi_system_cps_utilisation:ratio > {t['cps_utilisation_high']}",
               t["utilisation_for"], "warning", "sbc", "SBC {{ $labels.target }} near its CPS limit",
               "{{ $value | humanizePercentage }} of the licensed calls per second are in use."),
        # --- trunk quality ---
        _alert("TrunkAsrLow",
               f"{TW}:vsxi_trunk_window_answer_seizure:ratio{{{tw}}} < {t['trunk_asr_low']}\nand on ({WINDOW_BY})"
               f"\n{guard}",
               t["trunk_quality_for"], "warning", "trunk",
               "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): ASR low",
               "Answer-seizure ratio {{ $value | humanizePercentage }} over the last " + t["trunk_window"] + "."),
        _alert("TrunkFailureRatioHigh",
               f"{TW}:vsxi_trunk_window_failure:ratio{{{tw}}} > {t['trunk_failure_ratio_high']}\n"
               f"and on ({WINDOW_BY})\n{guard}",
               t["trunk_quality_for"], "warning", "trunk",
               "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): many failed calls",
               "{{ $value | humanizePercentage }} of the call attempts failed over the last " + t["trunk_window"]
               + "."),
        _alert("TrunkPddHigh",
               f"{TW}:vsxi_trunk_window_post_dial_delay_seconds:mean{{{tw}}} > {t['trunk_pdd_high_seconds']}\n"
               f"and on ({WINDOW_BY})\n{guard}",
               t["trunk_quality_for"], "warning", "trunk",
               "{{ $labels.target }} trunk {{ $labels.trunk_id }} ({{ $labels.direction }}): post-dial delay high",
               "Mean post-dial delay {{ $value | humanizeDuration }} over the last " + t["trunk_window"] + "."),
        # --- media and HA ---
        _alert("MediaServerDown", "vsxi_media_server_up == 0", t["media_server_down_for"], "critical", "media",
               "{{ $labels.target }}: media server {{ $labels.alias }} down",
               "Media server {{ $labels.media_server }} ({{ $labels.alias }}) does not report status up."),
        _alert("HaStateChanged", f'changes(vsxi_ha_state{{state="active"}}[{t["ha_change_window"]}]) > 0', "0m",
               "warning", "sbc", "SBC {{ $labels.target }} changed HA state",
               "The node's HA state changed in the last " + t["ha_change_window"] + ": check the failover."),
        _alert("HaBothNodesActive",
               'count by (ha_group) (\n  (vsxi_ha_state{state="active"} == 1)\n  * on (job, target) '
               "group_left (ha_group) vsxi_target_info\n) > 1",
               "1m", "critical", "sbc", "HA pair {{ $labels.ha_group }}: both nodes active",
               "Two SBCs of HA group {{ $labels.ha_group }} report ha_current_state active (split brain)."),
        # --- registrations ---
        _alert("RegistrationsDropping",
               f"target:vsxi_registrations:sum\n< {t['registrations_drop_ratio']} * "
               f"(target:vsxi_registrations:sum offset {t['registrations_drop_offset']})\nand "
               f"(target:vsxi_registrations:sum offset {t['registrations_drop_offset']}) >= {t['registrations_min']}",
               t["registrations_drop_for"], "warning", "sbc", "SBC {{ $labels.target }}: registrations dropping",
               "SIP registrations fell below " + f"{t['registrations_drop_ratio']:.0%}" + " of their level "
               + t["registrations_drop_offset"] + " ago (now {{ $value }})."),
        # --- XiVO ---
        _alert("QueueCallersNoAgent", "xivo_queue_callers > 0\nand on (job, target, queue)\n"
               "xivo_queue_agents_available == 0", t["queue_no_agent_for"], "warning", "queue",
               "{{ $labels.target }}: callers waiting in {{ $labels.queue }} and no agent available",
               "{{ $value }} callers wait in queue {{ $labels.queue }} with no available member."),
        _alert("QueueServiceLevelLow",
               f"xivo_queue_service_level_ratio < {t['queue_service_level_target']}\n"
               f"and on (job, target, queue)\n{_queue_offered('1h')} >= {t['queue_min_calls']}",
               t["queue_service_level_for"], "warning", "queue",
               "{{ $labels.target }}: queue {{ $labels.queue }} below its service level",
               "{{ $value | humanizePercentage }} of the calls answered in queue {{ $labels.queue }} were answered "
               "within its target time, below " + f"{t['queue_service_level_target']:.0%}" + " for "
               + t["queue_service_level_for"] + "."),
        _alert("QueueAbandonRatioHigh",
               f"target_queue:xivo_queue_calls_abandoned:ratio_rate{t['queue_window']} > "
               f"{t['queue_abandon_ratio_high']}\nand on (job, target, queue)\n"
               f"{_queue_offered(t['queue_window'])} >= {t['queue_min_calls']}",
               t["queue_abandon_for"], "warning", "queue",
               "{{ $labels.target }}: callers abandoning queue {{ $labels.queue }}",
               "{{ $value | humanizePercentage }} of the callers of queue {{ $labels.queue }} hung up before an "
               "answer over the last " + t["queue_window"] + " (threshold "
               + f"{t['queue_abandon_ratio_high']:.0%}" + ")."),
        _alert("SipPeersLost",
               f'sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}})\n< {t["sip_peers_drop_ratio"]} * '
               f'sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}} offset {t["sip_peers_drop_offset"]})'
               f'\nand sum by (job, target) (xivo_sip_peers{{status=~"ok|lagged"}} offset '
               f'{t["sip_peers_drop_offset"]}) >= {t["sip_peers_min"]}',
               t["sip_peers_drop_for"], "warning", "pbx", "PBX {{ $labels.target }}: SIP peers lost",
               "Reachable SIP peers fell below " + f"{t['sip_peers_drop_ratio']:.0%}" + " of their level "
               + t["sip_peers_drop_offset"] + " ago."),
        _alert("TrunkRegistrationLost", "xivo_trunk_registered == 0", t["trunk_registration_lost_for"],
               "critical", "trunk", "PBX {{ $labels.target }}: trunk {{ $labels.trunk }} not registered",
               "The registration of trunk {{ $labels.trunk }} has been down for "
               + t["trunk_registration_lost_for"] + ": outgoing and incoming calls on it fail."),
        _alert("DevicesNotConfigured", 'xivo_devices{status="not_configured"} > 0',
               t["devices_not_configured_for"], "info", "pbx",
               "PBX {{ $labels.target }}: {{ $value }} devices not configured",
               "Phones known to provd but not configured for " + t["devices_not_configured_for"] + "."),
    ]


def rule_files() -> dict[str, dict]:
    return {
        "recording.yml": {"groups": [{"name": "vsxi-xivo-recording", "rules": recording_rules()}]},
        "alerts.yml": {"groups": [{"name": "vsxi-xivo-alerts", "rules": alerts()}]},
    }

"""Grafana dashboards, generated from code (plain dicts of Grafana's JSON model, schemaVersion 39).

Conventions, checked by tests/test_dashboards.py: a ``datasource`` variable and no hard-coded datasource;
``job`` then ``target`` variables, chained (each query filters on the previous), then domain variables (trunk,
queue); ``$__rate_interval`` in every rate(); a unit on every panel; stable uids.
"""

from __future__ import annotations

import re

from exporter.registry import FAMILIES
from mixin.config import THRESHOLDS as T

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", target=~"$target"'


def _var_datasource() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": [], "regex": ""}


def _var(name: str, label: str, query: str, multi: bool = True, include_all: bool = True) -> dict:
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query, "refresh": 2,
            "multi": multi, "includeAll": include_all, "allValue": ".+" if include_all else None,
            "current": {}, "hide": 0, "options": [], "regex": "", "sort": 1}


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref,
            "range": not instant, "instant": instant}


class _Layout:
    """Places panels left to right, 24 columns wide, wrapping to new rows."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.panels: list[dict] = []

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_h
        self.panels.append({"type": "row", "title": title, "id": self.next_id, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.next_id += 1
        self.y += 1
        self.x = self.row_h = 0

    def add(self, kind: str, title: str, targets: list[dict], unit: str, w: int = 12, h: int = 8,
            description: str = "", min_: float | None = None, max_: float | None = None, **options) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        defaults: dict = {"unit": unit}
        if min_ is not None:
            defaults["min"] = min_
        if max_ is not None:
            defaults["max"] = max_
        refs = iter("ABCDEFGH")
        panel = {
            "type": kind, "title": title, "description": description, "id": self.next_id, "datasource": DS,
            "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
            "targets": [{**t, "refId": next(refs)} for t in targets],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or ({"legend": {"displayMode": "table", "placement": "right", "showLegend": True},
                                    "tooltip": {"mode": "multi", "sort": "desc"}} if kind == "timeseries" else {}),
        }
        self.panels.append(panel)
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)


def _helps() -> dict[str, str]:
    """Metric (and recorded series) name -> its HELP, which names the source table and field."""
    from exporter.registry import FAMILIES
    from exporter.selfmetrics import SelfMetrics
    from mixin.rules import recording_rules

    helps = {spec.name: spec.help for family in FAMILIES.values() for spec in family.catalog.specs.values()}
    helps.update({name.removesuffix("_total"): text for name, _, _, text in SelfMetrics(FAMILIES.values()).reference()})
    for rule in recording_rules():
        helps[rule["record"]] = f"Recording rule {rule['record']}: " + " ".join(rule["expr"].split())
    return helps


def _describe(panel: dict, helps: dict[str, str]) -> None:
    """A panel without a written description gets the HELP of each metric it shows (source table and field)."""
    if panel.get("description") or panel["type"] == "row":
        return
    from exporter.registry import FAMILIES

    prefixes = "|".join((*FAMILIES, "process"))  # each family's metrics start with its name
    seen = []
    for target in panel["targets"]:
        for name in re.findall(rf"\b([a-z_]+:[a-z0-9_]+:[a-z]+|(?:{prefixes})_[a-z0-9_]+)\b", target["expr"]):
            base = re.sub(r"_(bucket|sum|count|total)$", "", name)
            if base in helps and helps[base] not in seen:
                seen.append(helps[base])
    panel["description"] = " ".join(seen) or panel["title"]


def _dashboard(uid: str, title: str, description: str, variables: list[dict], layout: _Layout,
               tags: list[str]) -> dict:
    helps = _helps()
    for panel in layout.panels:
        _describe(panel, helps)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vsxi-xivo-exporter", *tags],
        "schemaVersion": 39, "version": 1, "editable": False, "graphTooltip": 1, "timezone": "",
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "links": [], "annotations": {"list": []},
        "templating": {"list": [_var_datasource(), *variables]}, "panels": layout.panels,
    }


def sbc_fleet() -> dict:
    v = [_var("job", "Job", "label_values(vsxi_up, job)"),
         _var("target", "SBC", 'label_values(vsxi_up{job=~"$job"}, target)')]
    L = _Layout()
    L.row("Fleet")
    L.add("stat", "SBCs up", [_target(f"sum(vsxi_up{{{SEL}}})", "up")], "none", w=4, h=4,
          description="SBCs whose last poll round authenticated and got at least one table.")
    L.add("stat", "SBCs down", [_target(f"count(vsxi_up{{{SEL}}} == 0) or vector(0)", "down")], "none", w=4, h=4)
    L.add("stat", "HA standby (402)", [_target(f"sum(vsxi_standby{{{SEL}}})", "standby")], "none", w=4, h=4)
    L.add("stat", "Active sessions (fleet)", [_target(f"sum(vsxi_system_active_sessions{{{SEL}}})", "sessions")],
          "short", w=6, h=4)
    L.add("stat", "Calls per second (fleet)", [_target(f"sum(vsxi_system_calls_per_second{{{SEL}}})", "cps")],
          "short", w=6, h=4)
    L.row("Capacity")
    L.add("timeseries", "Sessions vs licence", [_target(
        f"target:vsxi_system_session_utilisation:ratio{{{SEL}}}", "{{target}}")], "percentunit", min_=0, max_=1,
        description="sum_active_session / max_session_allowed (recording rule).")
    L.add("timeseries", "CPS vs limit", [_target(
        f"target:vsxi_system_cps_utilisation:ratio{{{SEL}}}", "{{target}}")], "percentunit", min_=0, max_=1,
        description="current_cps / max_cps_allowed (recording rule).")
    L.add("timeseries", "Active sessions", [
        _target(f"vsxi_system_active_sessions{{{SEL}}}", "{{target}}"),
        _target(f"vsxi_system_session_limit{{{SEL}}}", "{{target}} licence")], "short")
    L.add("timeseries", "Session attempts", [_target(
        f"rate(vsxi_system_session_attempts_total{{{SEL}}}[$__rate_interval])", "{{target}}")], "ops")
    L.row("Health")
    L.add("timeseries", "HA state", [_target(f'vsxi_ha_state{{{SEL}}} == 1', "{{target}}: {{state}}")], "none",
          description="1 for each SBC's current HA state.")
    L.add("timeseries", "CPU busy", [_target(f"1 - vsxi_system_cpu_idle_ratio{{{SEL}}}", "{{target}}")],
          "percentunit", min_=0, max_=1)
    L.add("stat", "HA nodes without ha_group", [_target(
        f'count(vsxi_ha_state{{{SEL}, state=~"active|standby"}} == 1 unless on (job, target) vsxi_target_info) '
        "or vector(0)", "nodes")], "none", w=6, h=6,
        description="SBCs in an HA pair (active or standby) whose pair is not configured (ha_group): "
                    "VsxiXivoHaBothNodesActive cannot see a split brain for them. The device does not name its "
                    "peer, so the pair is taken from the exporter config (docs/runbooks.md).")
    L.add("table", "HA status codes", [
        _target(f"vsxi_ha_local_status{{{SEL}}}", "local", instant=True),
        _target(f"vsxi_ha_remote_status{{{SEL}}}", "remote", instant=True),
        _target(f"vsxi_ha_switch_over_flag{{{SEL}}}", "switch-over", instant=True),
        _target(f"vsxi_ha_previous_state{{{SEL}}} == 1", "previous", instant=True)], "none", w=10, h=6,
        description="stats/realtime system_stat: ha_local_status and ha_remote_status (0 = healthy), "
                    "switch_over_flag (3 = normal), ha_pre_state.")
    L.add("timeseries", "Cluster sessions", [
        _target(f"vsxi_cluster_active_sessions{{{SEL}}}", "{{target}} active"),
        _target(f"vsxi_cluster_peak_active_sessions{{{SEL}}}", "{{target}} peak")], "short", w=8, h=6,
        description="Sessions of the HA cluster as each node reports them (cluster_active_session, "
                    "cluster_peak_session).")
    L.row("Limits and legs")
    L.add("timeseries", "Refused over the licence and CPS limit", [
        _target(f"vsxi_system_session_limit_exceeded{{{SEL}}}", "{{target}} sessions"),
        _target(f"vsxi_system_cps_limit_exceeded{{{SEL}}}", "{{target}} CPS")], "short", w=8,
        description="max_session_exceed and max_cps_exceed as the SBC reports them: a rise means calls refused.")
    L.add("timeseries", "Peak sessions and flow control", [
        _target(f"vsxi_system_peak_active_sessions{{{SEL}}}", "{{target}} peak sessions"),
        _target(f"vsxi_system_flow_control_level{{{SEL}}}", "{{target}} flow control")], "short", w=8,
        description="peak_active_session; flow_control_lev (0 = none: above it the SBC throttles).")
    L.add("timeseries", "Call legs by protocol", [
        _target(f"sum by (target, protocol, direction) (vsxi_system_call_legs{{{SEL}}})",
                "{{target}} {{protocol}} {{direction}}"),
        _target(f"vsxi_system_peak_call_legs{{{SEL}}}", "{{target}} {{protocol}} peak")], "short", w=8)
    L.add("timeseries", "Answer-seizure ratio by direction (1h)", [_target(
        f'target_direction_window:vsxi_trunk_window_answer_seizure:ratio{{{SEL}, window="1h"}}',
        "{{target}} {{direction}}")], "percentunit", w=24, min_=0, max_=1,
        description="All trunks of each SBC together, from stats/resource 1h_ fields (recording rule).")
    return _dashboard("vsxi-sbc-fleet", "VSXi / SBC fleet", "Every Sansay VSXi SBC at a glance.", v, L, ["vsxi"])


def sbc_detail() -> dict:
    v = [_var("job", "Job", "label_values(vsxi_up, job)"),
         _var("target", "SBC", 'label_values(vsxi_up{job=~"$job"}, target)', multi=False, include_all=False),
         _var("trunk", "Trunk", 'label_values(vsxi_trunk_info{job=~"$job", target=~"$target"}, trunk_id)')]
    T = f'{SEL}, trunk_id=~"$trunk"'
    W = f'{T}, window=~"$window"'
    v.append({"name": "window", "label": "Window", "type": "custom", "query": "15m,1h,24h",
              "current": {"text": "1h", "value": "1h"}, "multi": False, "includeAll": False, "hide": 0,
              "options": [{"text": w, "value": w, "selected": w == "1h"} for w in ("15m", "1h", "24h")]})
    L = _Layout()
    L.row("Trunk sessions")
    L.add("timeseries", "Sessions per trunk and direction", [_target(
        f'vsxi_trunk_active_sessions{{{T}, fqdn="Group"}}', "{{trunk_id}} {{direction}}")], "short",
        description="ingress = numOrig, egress = numTerm (trunk group rows).")
    L.add("timeseries", "Trunk sessions vs limit", [_target(
        f"target_trunk_id:vsxi_trunk_session_utilisation:ratio{{{T}}}", "{{trunk_id}}")], "percentunit",
        min_=0, max_=1)
    L.add("timeseries", "Trunk calls per second", [
        _target(f'vsxi_trunk_calls_per_second{{{T}, fqdn="Group"}}', "{{trunk_id}}"),
        _target(f'vsxi_trunk_cps_limit{{{T}, fqdn="Group"}}', "{{trunk_id}} limit")], "short")
    L.add("table", "Trunks", [_target(f"vsxi_trunk_info{{{T}}}", "", instant=True)], "none",
          description="Trunk ids and names (stats/resource alias).")
    L.row("Trunks per node (stats/realtime rows other than Group)")
    L.add("timeseries", "Sessions per trunk and node", [_target(
        f'vsxi_trunk_active_sessions{{{T}, fqdn!="Group"}}', "{{trunk_id}} {{fqdn}} {{direction}}")], "short",
        w=8, description="Per node/peer rows of XBResourceRealTimeStatList (fqdn other than Group).")
    L.add("timeseries", "Peak sessions per trunk", [_target(
        f"vsxi_trunk_peak_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}}")], "short", w=8,
        description="numPeak, Group and node rows.")
    L.add("timeseries", "CLZ sessions and CPS", [
        _target(f"vsxi_trunk_clz_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} sessions"),
        _target(f"vsxi_trunk_clz_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}} CPS")], "short", w=8,
        description="totalCLZ and numCLZCps as reported (their meaning is not public).")
    L.row("resource_detail [assumed fields]")
    L.add("timeseries", "Sessions per trunk, node and direction", [_target(
        f"vsxi_resource_detail_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} {{direction}}")], "short", w=8,
        description="stats/resource_detail, whose fields are assumed (docs/device-apis.md): compare with "
                    "the realtime rows; unmapped fields show below.")
    L.add("timeseries", "Sessions vs limit", [
        _target(f"vsxi_resource_detail_peak_active_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} peak"),
        _target(f"vsxi_resource_detail_session_limit{{{T}}}", "{{trunk_id}} {{fqdn}} limit")], "short", w=8)
    L.add("timeseries", "CPS vs limit", [
        _target(f"vsxi_resource_detail_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}}"),
        _target(f"vsxi_resource_detail_cps_limit{{{T}}}", "{{trunk_id}} {{fqdn}} limit"),
        _target(f"vsxi_resource_detail_clz_sessions{{{T}}}", "{{trunk_id}} {{fqdn}} CLZ"),
        _target(f"vsxi_resource_detail_clz_calls_per_second{{{T}}}", "{{trunk_id}} {{fqdn}} CLZ CPS")],
        "short", w=8)
    L.row("Trunk pairs (gw_realtime_stat) [assumed fields]")
    G = f'{SEL}, orig_trunk_id=~"$trunk"'
    L.add("timeseries", "Sessions per trunk pair", [
        _target(f"vsxi_gateway_active_sessions{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}}"),
        _target(f"vsxi_gateway_peak_active_sessions{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}} peak")],
        "short", w=12, description="stats/realtime gw_realtime_stat, seen empty on idle SBCs; fields assumed.")
    L.add("timeseries", "CPS per trunk pair", [_target(
        f"vsxi_gateway_calls_per_second{{{G}}}", "{{orig_trunk_id}} -> {{term_trunk_id}}")], "short", w=12)
    L.row("Trunk quality ($window window)")
    L.add("timeseries", "Answer-seizure ratio", [_target(
        f"target_trunk_id_direction_window:vsxi_trunk_window_answer_seizure:ratio{{{W}}}",
        "{{trunk_id}} {{direction}}")], "percentunit", w=6, min_=0, max_=1)
    L.add("timeseries", "Failure ratio", [_target(
        f"target_trunk_id_direction_window:vsxi_trunk_window_failure:ratio{{{W}}}", "{{trunk_id}} {{direction}}")],
        "percentunit", w=6, min_=0, max_=1)
    L.add("timeseries", "Mean post-dial delay", [_target(
        f"target_trunk_id_direction_window:vsxi_trunk_window_post_dial_delay_seconds:mean{{{W}}}",
        "{{trunk_id}} {{direction}}")], "s", w=6)
    L.add("timeseries", "Mean call duration", [_target(
        f"target_trunk_id_direction_window:vsxi_trunk_window_call_duration_seconds:mean{{{W}}}",
        "{{trunk_id}} {{direction}}")], "s", w=6)
    L.add("timeseries", "Call attempts in the window", [_target(
        f"vsxi_trunk_window_call_attempts{{{W}}}", "{{trunk_id}} {{direction}}")], "short", w=24)
    L.row("Registrations and calls")
    L.add("timeseries", "Registrations by state", [_target(
        f"sum by (state) (vsxi_registrations{{{T}}})", "{{state}}")], "short", w=8)
    L.add("timeseries", "Registrations by protocol", [_target(
        f"sum by (protocol) (vsxi_registrations{{{T}}})", "{{protocol}}")], "short", w=8)
    L.add("timeseries", "Registrations behind NAT", [_target(
        f"sum(vsxi_registrations_behind_nat{{{T}}})", "behind NAT")], "short", w=8)
    L.add("timeseries", "Active calls per trunk pair", [_target(
        f'vsxi_active_calls{{{SEL}, orig_trunk_id=~"$trunk"}}', "{{orig_trunk_id}} -> {{term_trunk_id}}")],
        "short")
    L.add("timeseries", "Answered share of active calls per trunk pair", [_target(
        f'target_orig_trunk_id_term_trunk_id:vsxi_active_calls_answered:ratio{{{SEL}, orig_trunk_id=~"$trunk"}}',
        "{{orig_trunk_id}} -> {{term_trunk_id}}")], "percentunit", min_=0, max_=1,
        description="Active calls past answer / all active calls (stats/active_calls; recording rule).")
    L.add("timeseries", "Duration of active calls", [
        _target(f"histogram_quantile(0.5, sum by (le) (vsxi_active_call_duration_seconds_bucket{{{SEL}}}))",
                "median"),
        _target(f"histogram_quantile(0.9, sum by (le) (vsxi_active_call_duration_seconds_bucket{{{SEL}}}))",
                "90th percentile")], "s")
    L.row("Media servers and SIP")
    L.add("timeseries", "Media server sessions vs limit", [_target(
        f"vsxi_media_server_active_sessions{{{SEL}}}\n/ on (job, target, media_server, alias)\n"
        f"vsxi_media_server_session_limit{{{SEL}}}", "{{alias}}")], "percentunit", w=8, min_=0, max_=1)
    L.add("stat", "Media servers up", [_target(f"vsxi_media_server_up{{{SEL}}}", "{{alias}}")], "bool_on_off",
          w=8)
    L.add("table", "Media servers", [
        _target(f"vsxi_media_server_info{{{SEL}}}", "", instant=True),
        _target(f"vsxi_media_server_priority{{{SEL}}}", "priority", instant=True)], "none", w=8,
        description="Switch type and priority of each media server (stats/media_server).")
    L.add("timeseries", "SIP messages [assumed fields]", [_target(
        f"vsxi_sip_messages{{{SEL}}}", "{{direction}} {{message}}")], "short", w=8,
        description="stats/sip_stats, fields assumed: values as read (whether the device resets them is unknown).")
    L.add("timeseries", "Unmapped fields per table", [_target(
        f"vsxi_collector_unmapped_fields{{{SEL}}}", "{{collector}}")], "short", w=12,
        description="Fields the exporter cannot map: non-zero means a firmware with other fields (please report).")
    L.add("timeseries", "Unreadable values per field", [_target(
        f"vsxi_collector_unreadable_values{{{SEL}}}", "{{collector}} {{field}}")], "short", w=12,
        description="Known numeric fields whose value is no number the exporter reads (true, 12 kB): those "
                    "series are missing. Non-zero means a firmware writes values differently (please report).")
    return _dashboard("vsxi-sbc-detail", "VSXi / SBC detail", "One SBC: trunks, quality, registrations, calls.",
                      v, L, ["vsxi"])


def pbx() -> dict:
    v = [_var("job", "Job", "label_values(xivo_up, job)"),
         _var("target", "PBX", 'label_values(xivo_up{job=~"$job"}, target)'),
         _var("queue", "Queue", 'label_values(xivo_queue_callers{job=~"$job", target=~"$target"}, queue)')]
    Q = f'{SEL}, queue=~"$queue"'
    L = _Layout()
    L.row("Configuration")
    L.add("stat", "PBXs up", [_target(f"sum(xivo_up{{{SEL}}})", "up")], "none", w=4, h=6)
    L.add("stat", "PBXs by generation", [_target(
        f"count by (generation) (xivo_generation_info{{{SEL}}})", "{{generation}}", instant=True)], "none", w=4, h=6,
        description="xivo: chan_sip, registrations from AMI; wazo: calld trunks and lines (asked of the PBX).")
    L.add("bargauge", "Objects", [_target(f"sum by (kind) (xivo_objects{{{SEL}}})", "{{kind}}", instant=True)],
          "short", w=8, h=6)
    L.add("bargauge", "Devices by status", [_target(
        f"sum by (status) (xivo_devices{{{SEL}}})", "{{status}}", instant=True)], "short", w=8, h=6)
    L.add("bargauge", "Lines by protocol", [_target(
        f"sum by (protocol) (xivo_lines{{{SEL}}})", "{{protocol}}", instant=True)], "short", w=8, h=5)
    L.add("table", "Collections this PBX does not have", [_target(
        f"xivo_objects_unsupported{{{SEL}}} == 1", "", instant=True)], "none", w=16, h=5,
        description="confd collections that answered 404 (not in this generation or version): not counted.")
    L.row("Agents and queues")
    L.add("timeseries", "Agents", [
        _target(f"sum(xivo_agents{{{SEL}}})", "agents"),
        _target(f"sum(xivo_agents_logged_in{{{SEL}}})", "logged in"),
        _target(f"sum(xivo_agents_paused{{{SEL}}}) or vector(0)", "paused")], "short", w=8)
    L.add("timeseries", "Callers waiting", [_target(f"xivo_queue_callers{{{Q}}}", "{{target}} {{queue}}")],
          "short", w=8)
    L.add("timeseries", "Available and logged-in members", [
        _target(f"xivo_queue_agents_available{{{Q}}}", "{{target}} {{queue}} available"),
        _target(f"xivo_queue_agents_logged_in{{{Q}}}", "{{target}} {{queue}} logged in")], "short", w=8)
    L.add("timeseries", "Longest wait", [_target(
        f"xivo_queue_longest_hold_seconds{{{Q}}}", "{{target}} {{queue}}")], "s", w=12)
    L.add("timeseries", "Average hold and talk time", [
        _target(f"xivo_queue_hold_time_seconds{{{Q}}}", "hold {{queue}}"),
        _target(f"xivo_queue_talk_time_seconds{{{Q}}}", "talk {{queue}}")], "s", w=12)
    L.row("Contact centre (queue_status collector)")
    L.add("timeseries", "Abandon ratio", [_target(
        f"target_queue:xivo_queue_calls_abandoned:ratio_rate{T['queue_window']}{{{Q}}}", "{{target}} {{queue}}")],
        "percentunit", w=6, description="Callers who hung up before an answer, of answered and abandoned calls, "
        f"over {T['queue_window']} (recording rule). The alert threshold is {T['queue_abandon_ratio_high']:.0%}.")
    L.add("timeseries", "Service level against target", [
        _target(f"xivo_queue_service_level_ratio{{{Q}}}", "{{target}} {{queue}}"),
        _target(f"xivo_queue_service_level_offered_ratio{{{Q}}}", "{{target}} {{queue}} (abandons in target met)"),
        _target(f"{T['queue_service_level_target']} + 0 * max(xivo_queue_service_level_target_seconds{{{Q}}})",
                "target")], "percentunit", w=6,
        description="Share of answered calls answered within each queue's target time (since the queue's last "
                    "reset), against the mixin's target. The queues' target times are in the table beside.")
    L.add("timeseries", "Answered per minute", [_target(
        f"sum by (target, queue) (rate(xivo_queue_calls_completed_total{{{Q}}}[$__rate_interval])) * 60",
        "{{target}} {{queue}}")], "short", w=6)
    L.add("timeseries", "Paused members per queue", [
        _target(f"sum by (target, queue) (xivo_queue_member_paused{{{Q}}})", "{{target}} {{queue}} paused"),
        _target(f"sum by (target, queue) (xivo_queue_member_in_call{{{Q}}})", "{{target}} {{queue}} on a call")],
        "short", w=6, description="Needs queue_members: true on the PBX (per-member series; see the README).")
    L.add("table", "Queue settings", [
        _target(f"xivo_queue_service_level_target_seconds{{{Q}}}", "", instant=True),
        _target(f"xivo_queue_max_callers{{{Q}}}", "", instant=True),
        _target(f"xivo_queue_info{{{Q}}}", "", instant=True)], "none", w=12, h=6,
        description="Target answer time (s), most callers at once (0: no limit) and ring strategy per queue.")
    L.add("table", "Calls taken per member, per hour", [_target(
        f"sort_desc(rate(xivo_queue_member_calls_taken_total{{{Q}}}[$__rate_interval]) * 3600)", "",
        instant=True)], "short", w=12, h=6,
        description="Answer rate per member and queue, as calls per hour (queue_members: true).")
    L.add("table", "Values the exporter could not read", [_target(
        f"xivo_collector_unreadable_values{{{SEL}}}", "", instant=True)], "short", w=24, h=4,
        description="Numeric AMI fields whose value is no number (empty, 20s): those queues or members lack that "
                    "series. Non-zero means a PBX writes values differently (please report).")
    L.row("Calls and SIP")
    L.add("timeseries", "Current calls", [_target(f"xivo_current_calls{{{SEL}}}", "{{target}}")], "short", w=8)
    L.add("timeseries", "Channels by state", [_target(
        f"sum by (state) (xivo_channels{{{SEL}}})", "{{state}}")], "short", w=8)
    L.add("timeseries", "SIP peers by status (chan_sip)", [_target(
        f"sum by (status) (xivo_sip_peers{{{SEL}}})", "{{status}}")], "short", w=8)
    L.add("table", "Trunk registrations", [_target(
        f"xivo_trunk_registered{{{SEL}}}", "", instant=True)], "bool_on_off", w=12)
    L.add("timeseries", "Current calls per trunk (Wazo)", [_target(
        f"xivo_trunk_current_calls{{{SEL}}}", "{{target}} {{trunk}}")], "short", w=12,
        description="calld trunks' current_call_count; IAX and custom trunks included (they have no registration).")
    L.add("timeseries", "Reachable SIP peers (chan_sip)", [_target(
        f"target:xivo_sip_peers_reachable:ratio{{{SEL}}}", "{{target}}")], "percentunit", w=12, min_=0, max_=1,
        description="SIP peers OK or lagged / all peers (recording rule).")
    L.add("timeseries", "Lines registered (Wazo)", [_target(
        f"sum by (state) (xivo_lines_registration{{{SEL}}}) or sum by (status) (xivo_sip_peers{{{SEL}}})",
        "{{state}}{{status}}")], "short", w=12,
        description="Wazo: calld lines by registration; XiVO: chan_sip peers by status.")
    return _dashboard("xivo-pbx", "XiVO / PBX", "XiVO and Wazo PBXs: objects, devices, agents, queues, calls, SIP.",
                      v, L, ["xivo"])


def _per_family(series: int, expr: str) -> list[dict]:
    """One query per registered family, ``expr`` (``{}``: the series) on one of its four common collector
    series (StatusSpecs.common, by position): a new family's collectors get the exporter-health panels too."""
    return [_target(expr.format(family.status.common[series].name), "{{target}} {{collector}}")
            for family in FAMILIES.values()]


def exporter_health() -> dict:
    v = [_var("job", "Job", "label_values(vsxi_xivo_exporter_build_info, job)"),
         _var("instance", "Exporter", 'label_values(vsxi_xivo_exporter_build_info{job=~"$job"}, instance)'),
         _var("target", "Target", 'label_values(vsxi_xivo_exporter_polls_total{job=~"$job", '
              'instance=~"$instance"}, target)')]
    S = 'job=~"$job", instance=~"$instance"'
    ST = f'{S}, target=~"$target"'
    L = _Layout()
    L.row("Polls")
    L.add("timeseries", "Collector success", _per_family(0, "{}{{" + ST + "}}"), "bool", min_=0, max_=1)
    L.add("timeseries", "Data age", _per_family(1, "time() - {}{{" + ST + "}}"),
        "s", description="Seconds since each collector's last success; data older than 3 intervals is dropped.")
    L.add("timeseries", "Poll errors by reason", [_target(
        f"sum by (reason) (rate(vsxi_xivo_exporter_poll_errors_total{{{ST}}}[$__rate_interval])) "
        "or on () vector(0)", "{{reason}}")], "ops")
    L.add("timeseries", "Poll duration (90th percentile)", [_target(
        f"histogram_quantile(0.9, sum by (le, family, collector) "
        f"(rate(vsxi_xivo_exporter_poll_duration_seconds_bucket{{{S}}}[$__rate_interval])))",
        "{{family}} {{collector}}")], "s")
    L.add("timeseries", "Device requests by outcome", [_target(
        f"sum by (outcome) (rate(vsxi_xivo_exporter_device_requests_total{{{ST}}}[$__rate_interval]))",
        "{{outcome}}")], "reqps")
    L.add("timeseries", "Wait for a slot (99th percentile)", [_target(
        f"histogram_quantile(0.99, sum by (le, family) "
        f"(rate(vsxi_xivo_exporter_slot_wait_seconds_bucket{{{S}}}[$__rate_interval])))", "{{family}}")], "s",
        description="How long a poll waited for one of global.max_concurrent_targets slots, to send a request "
                    "or to read an answer. A device that does not answer holds none past 250 ms, and targets "
                    "that answered last round go first: near 0, during an outage too. Rising on a healthy "
                    "day: raise max_concurrent_targets.")
    L.add("timeseries", "Authentication failures and token renewals", [
        _target(f"sum by (target, reason) (increase(vsxi_xivo_exporter_auth_failures_total{{{ST}}}"
                "[$__rate_interval])) or on () vector(0)", "failed {{target}} {{reason}}"),
        _target(f"sum by (target) (increase(vsxi_xivo_exporter_token_renewals_total{{{ST}}}[$__rate_interval]))"
                " or on () vector(0)", "token {{target}}")], "short")
    L.add("timeseries", "Poll duration per target and table", _per_family(2, "{}{{" + ST + "}}"), "s",
        description="Last poll of each table, retries included.")
    L.add("timeseries", "Answer size per target and table", _per_family(3, "{}{{" + ST + "}}"), "bytes",
        description="Bytes of the last answer (decompressed); compare with max_response_bytes.")
    L.add("timeseries", "Duplicate rows and JSON fallback", [
        _target(f"vsxi_collector_duplicate_rows{{{ST}}}", "{{target}} {{collector}} duplicates"),
        _target(f"vsxi_collector_json_fallback{{{ST}}}", "{{target}} {{collector}} polled as XML")], "short",
        description="Rows repeated in an answer (seen during HA failover; the first is kept); tables polled as "
                    "XML because the device's JSON conversion failed.")
    L.add("table", "Unmapped field values (first 500 per answer)", [_target(
        f"vsxi_unmapped_field_value{{{ST}}}", "", instant=True)], "none",
        description="Numeric fields the exporter does not map, with their values: what to report for a new "
                    "firmware.")
    L.row("Exporter process")
    L.add("timeseries", "Scrape encoding time (90th percentile)", [_target(
        f"histogram_quantile(0.9, sum by (le, handler) "
        f"(rate(vsxi_xivo_exporter_encode_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "{{handler}}")],
        "s", w=8)
    L.add("timeseries", "Resident memory", [_target(f"process_resident_memory_bytes{{{S}}}", "{{instance}}")],
          "bytes", w=8)
    L.add("timeseries", "CPU", [_target(
        f"rate(process_cpu_seconds_total{{{S}}}[$__rate_interval])", "{{instance}}")], "percentunit", w=8)
    L.row("Memory: where it goes (README, the memory model)")
    L.add("timeseries", "Answer bytes in flight", [
        _target(f"vsxi_xivo_exporter_in_flight_bytes{{{S}}}", "{{instance}} now"),
        _target(f"vsxi_xivo_exporter_in_flight_peak_bytes{{{S}}}", "{{instance}} peak"),
        _target(f"vsxi_xivo_exporter_in_flight_limit_bytes{{{S}}}", "{{instance}} budget")], "bytes", w=8,
        description="Device answers being read or parsed, the most held at once, and the budget "
                    "(global.max_in_flight_bytes) that bounds them.")
    L.add("timeseries", "Cached exposition", [
        _target(f"vsxi_xivo_exporter_cached_exposition_bytes{{{S}}}", "{{instance}} held (compressed)"),
        _target(f"vsxi_xivo_exporter_cached_exposition_text_bytes{{{S}}}", "{{instance}} as text")], "bytes",
        w=8, description="Series held ready to serve, as rendered at each table's last successful poll, held "
                         "compressed (about 10:1), and the text they stand for (what /metrics sends without "
                         "gzip): grows with the targets and their size (trunks, registrations, calls).")
    L.add("timeseries", "Targets by family", [
        _target(f"vsxi_xivo_exporter_targets{{{S}}}", "{{instance}} {{family}}")], "short", w=8)
    L.row("Configuration")
    L.add("timeseries", "Configuration applied", [
        _target(f"vsxi_xivo_exporter_config_last_reload_successful{{{S}}}", "{{instance}}")], "bool", w=24,
        description="1 when the configuration file in force is the last one loaded; 0 after a reload refused it "
                    "(the previous one still runs, the log says why). Inventory files: the alert "
                    "VsxiXivoInventoryFileNotApplied (vsxi_xivo_exporter_inventory_file_ok).")
    L.row("HTTP clients")
    L.add("timeseries", "Connections open", [
        _target(f"vsxi_xivo_exporter_http_connections{{{S}}}", "{{instance}}")], "short", w=12,
        description="Connections to the exporter open now; past --web.max-connections new ones are closed.")
    L.add("timeseries", "Hostile or broken clients", [
        _target(f"rate(vsxi_xivo_exporter_http_connections_refused_total{{{S}}}[$__rate_interval])",
                "{{instance}} refused (max connections)"),
        _target(f"rate(vsxi_xivo_exporter_http_slow_clients_closed_total{{{S}}}[$__rate_interval])",
                "{{instance}} closed (head too slow)"),
        _target(f"rate(vsxi_xivo_exporter_malformed_requests_total{{{S}}}[$__rate_interval])",
                "{{instance}} malformed (400)"),
        _target(f"rate(vsxi_xivo_exporter_http_accept_errors_total{{{S}}}[$__rate_interval])",
                "{{instance}} accept errors (no descriptor)"),
        _target(f"rate(vsxi_xivo_exporter_http_client_certificates_refused_total{{{S}}}[$__rate_interval])",
                "{{instance}} client certificate refused (SANs)")], "ops", w=12,
        description="Connections closed for being too many or too slow, requests that could not be parsed, "
                    "connections that could not be accepted, and client certificates without any of the web "
                    "config's client_allowed_sans: anything above 0 is a client to look at.")
    return _dashboard("vsxi-xivo-exporter-health", "vsxi-xivo-exporter / health",
                      "The exporter itself: polls, errors by reason, durations, data age.", v, L, ["exporter"])


# Exported device metrics that no panel or rule shows, and why. tests/test_mixin.py checks that every exported
# device metric is on a panel, in a rule, or here.
NOT_SHOWN = {
    "vsxi_system_demo_licence": "demo_lic is -1 on every licensed SBC seen; a flag, kept for queries",
    "vsxi_ha_slave_status": "slave_stat is a raw code whose meaning is not public; kept for queries",
    "xivo_queue_member_last_call_timestamp_seconds": "per member, for queries (time since an agent's last call)",
}


def dashboards() -> list[dict]:
    return [sbc_fleet(), sbc_detail(), pbx(), exporter_health()]

"""Grafana dashboards, generated from code (plain dicts of Grafana's JSON model, schemaVersion 39).

Conventions, checked by tests/test_dashboards.py: a ``datasource`` variable and no hard-coded datasource;
``job`` then ``target`` variables, chained (each query filters on the previous), then domain variables (trunk,
queue); ``$__rate_interval`` in every rate(); a unit on every panel; stable uids.
"""

from __future__ import annotations

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", target=~"$target"'


def _var_datasource() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": [], "regex": ""}


def _var(name: str, label: str, query: str, multi: bool = True, include_all: bool = True) -> dict:
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query, "refresh": 2,
            "multi": multi, "includeAll": include_all, "allValue": ".*" if include_all else None,
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


def _dashboard(uid: str, title: str, description: str, variables: list[dict], layout: _Layout,
               tags: list[str]) -> dict:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vsxi-xivo-exporter", *tags],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1, "timezone": "",
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
    L.row("Agents and queues")
    L.add("timeseries", "Agents", [
        _target(f"sum(xivo_agents{{{SEL}}})", "agents"),
        _target(f"sum(xivo_agents_logged_in{{{SEL}}})", "logged in"),
        _target(f"sum(xivo_agents_paused{{{SEL}}}) or vector(0)", "paused")], "short", w=8)
    L.add("timeseries", "Callers waiting", [_target(f"xivo_queue_callers{{{Q}}}", "{{target}} {{queue}}")],
          "short", w=8)
    L.add("timeseries", "Available members", [_target(
        f"xivo_queue_agents_available{{{Q}}}", "{{target}} {{queue}}")], "short", w=8)
    L.add("timeseries", "Longest wait", [_target(
        f"xivo_queue_longest_hold_seconds{{{Q}}}", "{{target}} {{queue}}")], "s", w=12)
    L.add("timeseries", "Average hold and talk time", [
        _target(f"xivo_queue_hold_time_seconds{{{Q}}}", "hold {{queue}}"),
        _target(f"xivo_queue_talk_time_seconds{{{Q}}}", "talk {{queue}}")], "s", w=12)
    L.row("Calls and SIP")
    L.add("timeseries", "Current calls", [_target(f"xivo_current_calls{{{SEL}}}", "{{target}}")], "short", w=8)
    L.add("timeseries", "Channels by state", [_target(
        f"sum by (state) (xivo_channels{{{SEL}}})", "{{state}}")], "short", w=8)
    L.add("timeseries", "SIP peers by status (chan_sip)", [_target(
        f"sum by (status) (xivo_sip_peers{{{SEL}}})", "{{status}}")], "short", w=8)
    L.add("table", "Trunk registrations", [_target(
        f"xivo_trunk_registered{{{SEL}}}", "", instant=True)], "bool_on_off", w=12)
    L.add("timeseries", "Lines registered (Wazo)", [_target(
        f"sum by (state) (xivo_lines_registration{{{SEL}}}) or sum by (status) (xivo_sip_peers{{{SEL}}})",
        "{{state}}{{status}}")], "short", w=12,
        description="Wazo: calld lines by registration; XiVO: chan_sip peers by status.")
    return _dashboard("xivo-pbx", "XiVO / PBX", "XiVO and Wazo PBXs: objects, devices, agents, queues, calls, SIP.",
                      v, L, ["xivo"])


def exporter_health() -> dict:
    v = [_var("job", "Job", "label_values(vsxi_xivo_exporter_build_info, job)"),
         _var("instance", "Exporter", 'label_values(vsxi_xivo_exporter_build_info{job=~"$job"}, instance)'),
         _var("target", "Target", 'label_values(vsxi_xivo_exporter_polls_total{job=~"$job", '
              'instance=~"$instance"}, target)')]
    S = 'job=~"$job", instance=~"$instance"'
    ST = f'{S}, target=~"$target"'
    L = _Layout()
    L.row("Polls")
    L.add("timeseries", "Collector success", [
        _target(f"vsxi_collector_success{{{ST}}}", "{{target}} {{collector}}"),
        _target(f"xivo_collector_success{{{ST}}}", "{{target}} {{collector}}")], "bool", min_=0, max_=1)
    L.add("timeseries", "Data age", [
        _target(f"time() - vsxi_collector_last_success_timestamp_seconds{{{ST}}}", "{{target}} {{collector}}"),
        _target(f"time() - xivo_collector_last_success_timestamp_seconds{{{ST}}}", "{{target}} {{collector}}")],
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
    L.add("timeseries", "Authentication failures and token renewals", [
        _target(f"sum by (target, reason) (increase(vsxi_xivo_exporter_auth_failures_total{{{ST}}}"
                "[$__rate_interval])) or on () vector(0)", "failed {{target}} {{reason}}"),
        _target(f"sum by (target) (increase(vsxi_xivo_exporter_token_renewals_total{{{ST}}}[$__rate_interval]))"
                " or on () vector(0)", "token {{target}}")], "short")
    L.row("Exporter process")
    L.add("timeseries", "Scrape encoding time (90th percentile)", [_target(
        f"histogram_quantile(0.9, sum by (le, handler) "
        f"(rate(vsxi_xivo_exporter_encode_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "{{handler}}")],
        "s", w=8)
    L.add("timeseries", "Resident memory", [_target(f"process_resident_memory_bytes{{{S}}}", "{{instance}}")],
          "bytes", w=8)
    L.add("timeseries", "CPU", [_target(
        f"rate(process_cpu_seconds_total{{{S}}}[$__rate_interval])", "{{instance}}")], "percentunit", w=8)
    return _dashboard("vsxi-xivo-exporter-health", "vsxi-xivo-exporter / health",
                      "The exporter itself: polls, errors by reason, durations, data age.", v, L, ["exporter"])


def dashboards() -> list[dict]:
    return [sbc_fleet(), sbc_detail(), pbx(), exporter_health()]

"""The XiVO family's dashboard (XiVO and Wazo PBXs) and its panel on the exporter-health dashboard."""

from __future__ import annotations

from exporter.xivo.monitoring.config import THRESHOLDS as T
from mixin.kit import HEALTH_TARGET_SEL as ST
from mixin.kit import SEL, Dashboard, Layout, dashboard, query, var


def pbx() -> dict:
    v = [var("job", "Job", "label_values(xivo_up, job)"),
         var("target", "PBX", 'label_values(xivo_up{job=~"$job"}, target)'),
         var("queue", "Queue", 'label_values(xivo_queue_callers{job=~"$job", target=~"$target"}, queue)')]
    Q = f'{SEL}, queue=~"$queue"'
    L = Layout()
    L.row("Configuration")
    L.add("stat", "PBXs up", [query(f"sum(xivo_up{{{SEL}}})", "up")], "none", w=4, h=6)
    L.add("stat", "PBXs by generation", [query(
        f"count by (generation) (xivo_generation_info{{{SEL}}})", "{{generation}}", instant=True)], "none", w=4, h=6,
        description="xivo: chan_sip, registrations from AMI; wazo: calld trunks and lines (asked of the PBX).")
    L.add("bargauge", "Objects", [query(f"sum by (kind) (xivo_objects{{{SEL}}})", "{{kind}}", instant=True)],
          "short", w=8, h=6)
    L.add("bargauge", "Devices by status", [query(
        f"sum by (status) (xivo_devices{{{SEL}}})", "{{status}}", instant=True)], "short", w=8, h=6)
    L.add("bargauge", "Lines by protocol", [query(
        f"sum by (protocol) (xivo_lines{{{SEL}}})", "{{protocol}}", instant=True)], "short", w=8, h=5)
    L.add("table", "Collections this PBX does not have", [query(
        f"xivo_objects_unsupported{{{SEL}}} == 1", "", instant=True)], "none", w=16, h=5,
        description="confd collections that answered 404 (not in this generation or version): not counted.")
    L.row("Agents and queues")
    L.add("timeseries", "Agents", [
        query(f"sum(xivo_agents{{{SEL}}})", "agents"),
        query(f"sum(xivo_agents_logged_in{{{SEL}}})", "logged in"),
        query(f"sum(xivo_agents_paused{{{SEL}}}) or vector(0)", "paused")], "short", w=8)
    L.add("timeseries", "Callers waiting", [query(f"xivo_queue_callers{{{Q}}}", "{{target}} {{queue}}")],
          "short", w=8)
    L.add("timeseries", "Available and logged-in members", [
        query(f"xivo_queue_agents_available{{{Q}}}", "{{target}} {{queue}} available"),
        query(f"xivo_queue_agents_logged_in{{{Q}}}", "{{target}} {{queue}} logged in")], "short", w=8)
    L.add("timeseries", "Longest wait", [query(
        f"xivo_queue_longest_hold_seconds{{{Q}}}", "{{target}} {{queue}}")], "s", w=12)
    L.add("timeseries", "Average hold and talk time", [
        query(f"xivo_queue_hold_time_seconds{{{Q}}}", "hold {{queue}}"),
        query(f"xivo_queue_talk_time_seconds{{{Q}}}", "talk {{queue}}")], "s", w=12)
    L.row("Contact centre (queue_status collector)")
    L.add("timeseries", "Abandon ratio", [query(
        f"target_queue:xivo_queue_calls_abandoned:ratio_rate{T['queue_window']}{{{Q}}}", "{{target}} {{queue}}")],
        "percentunit", w=6, description="Callers who hung up before an answer, of answered and abandoned calls, "
        f"over {T['queue_window']} (recording rule). The alert threshold is {T['queue_abandon_ratio_high']:.0%}.")
    L.add("timeseries", "Service level against target", [
        query(f"xivo_queue_service_level_ratio{{{Q}}}", "{{target}} {{queue}}"),
        query(f"xivo_queue_service_level_offered_ratio{{{Q}}}", "{{target}} {{queue}} (abandons in target met)"),
        query(f"{T['queue_service_level_target']} + 0 * max(xivo_queue_service_level_target_seconds{{{Q}}})",
                "target")], "percentunit", w=6,
        description="Share of answered calls answered within each queue's target time (since the queue's last "
                    "reset), against the mixin's target. The queues' target times are in the table beside.")
    L.add("timeseries", "Answered per minute", [query(
        f"sum by (target, queue) (rate(xivo_queue_calls_completed_total{{{Q}}}[$__rate_interval])) * 60",
        "{{target}} {{queue}}")], "short", w=6)
    L.add("timeseries", "Paused members per queue", [
        query(f"sum by (target, queue) (xivo_queue_member_paused{{{Q}}})", "{{target}} {{queue}} paused"),
        query(f"sum by (target, queue) (xivo_queue_member_in_call{{{Q}}})", "{{target}} {{queue}} on a call")],
        "short", w=6, description="Needs queue_members: true on the PBX (per-member series; docs/configuration.md).")
    L.add("table", "Queue settings", [
        query(f"xivo_queue_service_level_target_seconds{{{Q}}}", "", instant=True),
        query(f"xivo_queue_max_callers{{{Q}}}", "", instant=True),
        query(f"xivo_queue_info{{{Q}}}", "", instant=True)], "none", w=12, h=6,
        description="Target answer time (s), most callers at once (0: no limit) and ring strategy per queue.")
    L.add("table", "Calls taken per member, per hour", [query(
        f"sort_desc(increase(xivo_queue_member_calls_taken_total{{{Q}}}[1h]))", "",
        instant=True)], "short", w=12, h=6,
        description="Calls each member answered in each queue over the last hour (queue_members: true).")
    L.add("table", "Values the exporter could not read", [query(
        f"xivo_collector_unreadable_values{{{SEL}}}", "", instant=True)], "short", w=24, h=4,
        description="Numeric AMI fields whose value is no number (empty, 20s): those queues or members lack that "
                    "series. Non-zero means a PBX writes values differently (please report).")
    L.row("Calls and SIP")
    L.add("timeseries", "Current calls", [query(f"xivo_current_calls{{{SEL}}}", "{{target}}")], "short", w=8)
    L.add("timeseries", "Channels by state", [query(
        f"sum by (state) (xivo_channels{{{SEL}}})", "{{state}}")], "short", w=8)
    L.add("timeseries", "SIP peers by status (chan_sip)", [query(
        f"sum by (status) (xivo_sip_peers{{{SEL}}})", "{{status}}")], "short", w=8)
    L.add("table", "Trunk registrations", [query(
        f"xivo_trunk_registered{{{SEL}}}", "", instant=True)], "bool_on_off", w=12)
    L.add("timeseries", "Current calls per trunk (Wazo)", [query(
        f"xivo_trunk_current_calls{{{SEL}}}", "{{target}} {{trunk}}")], "short", w=12,
        description="calld trunks' current_call_count; IAX and custom trunks included (they have no registration).")
    L.add("timeseries", "Reachable SIP peers (chan_sip)", [query(
        f"target:xivo_sip_peers_reachable:ratio{{{SEL}}}", "{{target}}")], "percentunit", w=12, min_=0, max_=1,
        description="SIP peers OK or lagged / all peers (recording rule).")
    L.add("timeseries", "Lines registered (Wazo)", [query(
        f"sum by (state) (xivo_lines_registration{{{SEL}}}) or sum by (status) (xivo_sip_peers{{{SEL}}})",
        "{{state}}{{status}}")], "short", w=12,
        description="Wazo: calld lines by registration; XiVO: chan_sip peers by status.")
    L.add("timeseries", "SIP trunks: qualify round trip", [query(
        f"xivo_sip_trunk_qualify_rtt_seconds{{{SEL}}}", "{{target}} {{trunk}}")], "s", w=12,
        description="Round trip of Asterisk's last qualify (OPTIONS) ping per SIP trunk; none while unreachable.")
    L.add("table", "SIP trunks not reachable", [query(
        f'xivo_sip_trunk_status{{{SEL}, status!="ok"}} == 1', "", instant=True)], "none", w=12,
        description="SIP trunks whose qualify status is lagged, unreachable, unknown or unmonitored (not "
                    "qualified: set qualify on the trunk to watch it).")
    L.add("timeseries", "Time since Asterisk started and last reloaded", [
        query(f"time() - xivo_core_startup_timestamp_seconds{{{SEL}}}", "{{target}} up"),
        query(f"time() - xivo_core_reload_timestamp_seconds{{{SEL}}}", "{{target}} since reload")], "s", w=12,
        description="From amid CoreStatus start-up and reload times (read in the target's timezone): a drop to "
                    "0 is a restart or a reload.")
    return dashboard("xivo-pbx", "XiVO / PBX", "XiVO and Wazo PBXs: objects, devices, agents, queues, calls, SIP.",
                     v, L, ["xivo"])


def dashboards() -> list[Dashboard]:
    return [pbx()]


def health_panels(L: Layout) -> None:
    """The xivo-auth tokens the exporter renews (a self-metric only this family has)."""
    L.add("timeseries", "XiVO token renewals", [query(
        f"sum by (target) (increase(vsxi_xivo_exporter_token_renewals_total{{{ST}}}[$__rate_interval]))"
        " or on () vector(0)", "{{target}}")], "short",
        description="Tokens obtained from xivo-auth: one per PBX at start and at each expiry; more means the "
                    "PBX refuses or forgets the exporter's token.")

"""The dashboards: what every registered family hands over (``Family.monitoring``, its package's
``monitoring/dashboards.py``) and the exporter-health dashboard, common to all, whose collector panels are made
here from each family's common status series and which ends with each family's own health panels.
Conventions: mixin/kit.py. Panels without a written description get their metrics' HELP here, once every
family's metrics and recording rules are known.
"""

from __future__ import annotations

import re

from exporter.registry import FAMILIES
from exporter.selfmetrics import SelfMetrics
from mixin.kit import HEALTH_SEL, HEALTH_TARGET_SEL, Dashboard, Layout, dashboard, query, var
from mixin.rules import monitorings, recording_rules


def _per_family(series: int, expr: str) -> list[dict]:
    """One query per registered family, ``expr`` (``{}``: the series) on one of its four common collector
    series (StatusSpecs.common, by position): a new family's collectors get the exporter-health panels too."""
    return [query(expr.format(family.status.common[series].name), "{{target}} {{collector}}")
            for family in FAMILIES.values()]


def exporter_health() -> dict:
    v = [var("job", "Job", "label_values(vsxi_xivo_exporter_build_info, job)"),
         var("instance", "Exporter", 'label_values(vsxi_xivo_exporter_build_info{job=~"$job"}, instance)'),
         var("target", "Target", 'label_values(vsxi_xivo_exporter_polls_total{job=~"$job", '
             'instance=~"$instance"}, target)')]
    S, ST = HEALTH_SEL, HEALTH_TARGET_SEL
    L = Layout()
    L.row("Polls")
    L.add("timeseries", "Collector success", _per_family(0, "{}{{" + ST + "}}"), "bool", min_=0, max_=1)
    L.add("timeseries", "Data age", _per_family(1, "time() - {}{{" + ST + "}}"),
        "s", description="Seconds since each collector's last success; data older than 3 intervals is dropped.")
    L.add("timeseries", "Poll errors by reason", [query(
        f"sum by (reason) (rate(vsxi_xivo_exporter_poll_errors_total{{{ST}}}[$__rate_interval])) "
        "or on () vector(0)", "{{reason}}")], "ops")
    L.add("timeseries", "Poll duration (90th percentile)", [query(
        f"histogram_quantile(0.9, sum by (le, family, collector) "
        f"(rate(vsxi_xivo_exporter_poll_duration_seconds_bucket{{{S}}}[$__rate_interval])))",
        "{{family}} {{collector}}")], "s")
    L.add("timeseries", "Device requests by outcome", [query(
        f"sum by (outcome) (rate(vsxi_xivo_exporter_device_requests_total{{{ST}}}[$__rate_interval]))",
        "{{outcome}}")], "reqps")
    L.add("timeseries", "Wait for a slot (99th percentile)", [query(
        f"histogram_quantile(0.99, sum by (le, family) "
        f"(rate(vsxi_xivo_exporter_slot_wait_seconds_bucket{{{S}}}[$__rate_interval])))", "{{family}}")], "s",
        description="How long a poll waited for one of global.max_concurrent_targets slots, to send a request "
                    "or to read an answer. A device that does not answer holds none past 250 ms, and targets "
                    "that answered last round go first: near 0, during an outage too. Rising on a healthy "
                    "day: raise max_concurrent_targets.")
    L.add("timeseries", "Device certificates: time to expiry", [query(
        f"vsxi_xivo_target_certificate_expiry_timestamp_seconds{{{ST}}} - time()", "{{target}}")], "s",
        description="Until the certificate each https:// device presents expires (read whether or not it is "
                    "verified). VsxiXivoCertificateExpiringSoon pages at 21 days (warning) and 7 (critical).")
    L.add("timeseries", "Authentication failures", [
        query(f"sum by (target, reason) (increase(vsxi_xivo_exporter_auth_failures_total{{{ST}}}"
              "[$__rate_interval])) or on () vector(0)", "{{target}} {{reason}}")], "short")
    L.add("timeseries", "Poll duration per target and table", _per_family(2, "{}{{" + ST + "}}"), "s",
        description="Last poll of each table, retries included.")
    L.add("timeseries", "Answer size per target and table", _per_family(3, "{}{{" + ST + "}}"), "bytes",
        description="Bytes of the last answer (decompressed); compare with max_response_bytes.")
    for m in monitorings():  # each family's own panels
        m.health_panels(L)
    L.row("Exporter process")
    L.add("timeseries", "Scrape encoding time (90th percentile)", [query(
        f"histogram_quantile(0.9, sum by (le, handler) "
        f"(rate(vsxi_xivo_exporter_encode_duration_seconds_bucket{{{S}}}[$__rate_interval])))", "{{handler}}")],
        "s", w=8)
    L.add("timeseries", "Resident memory", [query(f"process_resident_memory_bytes{{{S}}}", "{{instance}}")],
          "bytes", w=8)
    L.add("timeseries", "CPU", [query(
        f"rate(process_cpu_seconds_total{{{S}}}[$__rate_interval])", "{{instance}}")], "percentunit", w=8,
        description="CPU time the exporter's main process uses per second (process_cpu_seconds_total; the parse "
                    "workers are separate processes): 1 is one core.")
    L.row("Memory: where it goes (docs/performance.md, the memory model)")
    L.add("timeseries", "Answer bytes in flight", [
        query(f"vsxi_xivo_exporter_in_flight_bytes{{{S}}}", "{{instance}} now"),
        query(f"vsxi_xivo_exporter_in_flight_peak_bytes{{{S}}}", "{{instance}} peak"),
        query(f"vsxi_xivo_exporter_in_flight_limit_bytes{{{S}}}", "{{instance}} budget")], "bytes", w=8,
        description="Device answers being read or parsed, the most held at once, and the budget "
                    "(global.max_in_flight_bytes) that bounds them.")
    L.add("timeseries", "Cached exposition", [
        query(f"vsxi_xivo_exporter_cached_exposition_bytes{{{S}}}", "{{instance}} held (compressed)"),
        query(f"vsxi_xivo_exporter_cached_exposition_text_bytes{{{S}}}", "{{instance}} as text")], "bytes",
        w=8, description="Series held ready to serve, as rendered at each table's last successful poll, held "
                         "compressed (about 10:1), and the text they stand for (what /metrics sends without "
                         "gzip): grows with the targets and their size (trunks, registrations, calls).")
    L.add("timeseries", "Targets by family", [
        query(f"vsxi_xivo_exporter_targets{{{S}}}", "{{instance}} {{family}}")], "short", w=8)
    L.row("Configuration")
    L.add("timeseries", "Configuration applied", [
        query(f"vsxi_xivo_exporter_config_last_reload_successful{{{S}}}", "{{instance}}")], "bool", w=24,
        description="1 when the configuration file in force is the last one loaded; 0 after a reload refused it "
                    "(the previous one still runs, the log says why). Inventory files: the alert "
                    "VsxiXivoInventoryFileNotApplied (vsxi_xivo_exporter_inventory_file_ok).")
    L.row("HTTP clients")
    L.add("timeseries", "Connections open", [
        query(f"vsxi_xivo_exporter_http_connections{{{S}}}", "{{instance}}")], "short", w=12,
        description="Connections to the exporter open now; past --web.max-connections new ones are closed.")
    L.add("timeseries", "Hostile or broken clients", [
        query(f"rate(vsxi_xivo_exporter_http_connections_refused_total{{{S}}}[$__rate_interval])",
                "{{instance}} refused (max connections)"),
        query(f"rate(vsxi_xivo_exporter_http_slow_clients_closed_total{{{S}}}[$__rate_interval])",
                "{{instance}} closed (head too slow)"),
        query(f"rate(vsxi_xivo_exporter_malformed_requests_total{{{S}}}[$__rate_interval])",
                "{{instance}} malformed (400)"),
        query(f"rate(vsxi_xivo_exporter_http_accept_errors_total{{{S}}}[$__rate_interval])",
                "{{instance}} accept errors (no descriptor)"),
        query(f"rate(vsxi_xivo_exporter_http_client_certificates_refused_total{{{S}}}[$__rate_interval])",
                "{{instance}} client certificate refused (SANs)")], "ops", w=12,
        description="Connections closed for being too many or too slow, requests that could not be parsed, "
                    "connections that could not be accepted, and client certificates without any of the web "
                    "config's client_allowed_sans: anything above 0 is a client to look at.")
    return dashboard("vsxi-xivo-exporter-health", "vsxi-xivo-exporter / health",
                      "The exporter itself: polls, errors by reason, durations, data age.", v, L, ["exporter"])


def not_shown() -> dict[str, str]:
    """Exported device metrics that no panel or rule shows, and why (each family's ``Monitoring.not_shown``).
    tests/test_mixin.py checks that every exported device metric is on a panel, in a rule, or here."""
    return {name: why for m in monitorings() for name, why in m.not_shown.items()}


def _helps() -> dict[str, str]:
    """Metric (and recorded series) name -> its HELP, which names the source table and field."""
    helps = {spec.name: spec.help for family in FAMILIES.values() for spec in family.catalog.specs.values()}
    helps.update({name.removesuffix("_total"): text for name, _, _, text in SelfMetrics(FAMILIES.values()).reference()})
    for rule in recording_rules():
        helps[rule["record"]] = f"Recording rule {rule['record']}: " + " ".join(rule["expr"].split())
    return helps


def _describe(panel: dict, helps: dict[str, str]) -> None:
    """A panel without a written description gets the HELP of each metric it shows (source table and field)."""
    if panel.get("description") or panel["type"] == "row":
        return
    prefixes = "|".join((*FAMILIES, "process"))  # each family's metrics start with its name
    seen = []
    for target in panel["targets"]:
        for name in re.findall(rf"\b([a-z_]+:[a-z0-9_]+:[a-z]+|(?:{prefixes})_[a-z0-9_]+)\b", target["expr"]):
            # A catalogue counter's key carries its _total; a self-metric's and a histogram's series do not.
            base = name if name in helps else re.sub(r"_(bucket|sum|count|total)$", "", name)
            if base in helps and helps[base] not in seen:
                seen.append(helps[base])
    panel["description"] = " ".join(seen) or panel["title"]


def dashboards() -> list[Dashboard]:
    """Every family's dashboards and the exporter-health one; a panel without a written description gets the
    HELP of each metric it shows (source table and field)."""
    out = [*(d for m in monitorings() for d in m.dashboards()), exporter_health()]
    helps = _helps()
    for d in out:
        for panel in d["panels"]:
            _describe(panel, helps)
    return out

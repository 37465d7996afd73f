"""Recording rules and alerts: what every registered family hands over (``Family.monitoring``, its package's
``monitoring/rules.py``) after the alerts common to all, made here from the registry: the exporter's own
health, collectors failing or stale (from each family's common status series) and a site down (from each
family's ``up``).

Recording rules follow ``level:metric:operations``; ratios are sum(numerator) / sum(denominator) with empty
denominators filtered out (no NaN, no +Inf). Every alert carries ``severity`` (critical, warning, info) and
``component`` (exporter, site, sbc, pbx, trunk, collector, media, queue, certificate): the example Alertmanager
config inhibits on them. ``job`` is kept in every aggregation so dashboards can still filter by it.
"""

from __future__ import annotations

from exporter.devicefamily import Monitoring
from exporter.registry import FAMILIES
from mixin.config import CAPACITY_INTERVAL, EXPORTER_JOB_SELECTOR, PROBE_JOB_SELECTOR, SITE_LABEL
from mixin.config import THRESHOLDS as T
from mixin.kit import SITE_OF, Rule, alert, down


def monitorings() -> list[Monitoring]:
    """The monitoring of every registered family that has one, in registry order."""
    return [family.monitoring() for family in FAMILIES.values() if family.monitoring is not None]


def recording_rules() -> list[Rule]:
    """Every recording rule, of both groups."""
    return [*(rule for m in monitorings() for rule in m.recording_rules()), *capacity_rules()]


def capacity_rules() -> list[Rule]:
    return [rule for m in monitorings() for rule in m.capacity_rules()]


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


def _any_down() -> str:
    """Targets of any family that are down (HA standby nodes left out)."""
    parts = [f"({down(f.status)})" if f.status.standby is not None else down(f.status) for f in FAMILIES.values()]
    return parts[0] if len(parts) == 1 else f"({' or '.join(parts)})"


def _site_down(t: dict) -> str:
    """A site with many devices down at once: one series per site, counted over every job (a site whose devices
    are split over sharded scrape jobs is still one site); the targets without a site form one group."""
    down_ = (f"count by ({SITE_LABEL}) (\n  {_any_down()}\n"
             f"  * on (job, target) group_left ({SITE_LABEL})\n  {SITE_OF}\n)")
    # The count first: it is the alert's value.
    return (f"{down_}\n>= {t['site_down_min_targets']}\nand\n{down_}\n/\ncount by ({SITE_LABEL}) ({SITE_OF})\n"
            f">= {t['site_down_ratio']}")


CERTIFICATE_LEFT = "vsxi_xivo_target_certificate_expiry_timestamp_seconds - time()"


def _certificates(t: dict) -> list[Rule]:
    """A device's certificate near its expiry (two levels), and expired."""
    rules = [alert("CertificateExpiringSoon", f"{CERTIFICATE_LEFT} < {t[f'certificate_{level}_days']} * 86400\n"
                   f"and {CERTIFICATE_LEFT} > 0", t["certificate_for"], level, "certificate",
                   "A device's certificate expires soon",
                   "The certificate the device presents expires in {{ $value | humanizeDuration }}. Once expired, "
                   "the exporter (verifying it) cannot poll it, and clients of the same certificate (SIP over "
                   "TLS, the web interface) fail.",
                   subject="{{ $labels.target }}") for level in ("warning", "critical")]
    expired = "time() - vsxi_xivo_target_certificate_expiry_timestamp_seconds >= 0"
    return [*rules, alert("CertificateExpired", expired, "0m", "critical", "certificate",
                          "A device's certificate has expired",
                          "The certificate the device presents expired {{ $value | humanizeDuration }} ago. With "
                          "insecure_skip_verify the exporter still polls it; anything verifying it does not.",
                          subject="{{ $labels.target }}")]


def _flapping(t: dict) -> str:
    """Targets of any family down in a share of the last window's polls, changing state often (a `for:` resets
    at every success, so a device down one poll in three never pages as unreachable); HA standby nodes left
    out. The value is the share of the window down."""
    w = t["flapping_window"]
    parts = []
    for family in FAMILIES.values():
        up, standby = family.status.up.name, family.status.standby
        cond = (f"(\n  1 - avg_over_time({up}[{w}]) >= {t['flapping_down_ratio']}\n  and on (job, target)\n"
                f"  changes({up}[{w}]) >= {t['flapping_min_changes']}\n)")
        if standby is not None:
            cond = f"({cond}\nunless on (job, target) max_over_time({standby.name}[{w}]) == 1)"
        parts.append(cond)
    return "\nor\n".join(parts)


def _exporter_down() -> str:
    """An exporter that Prometheus cannot scrape, with its `exporter` label: the scrape config's own where it
    sets one (the Kubernetes examples: the pod's name), else its address (`instance`). The probe jobs of the
    examples label each probe with the exporter it goes to, so that this alert mutes those probes' failures."""
    return (f'up{{{EXPORTER_JOB_SELECTOR}, exporter!=""}} == 0\nor\n'
            f'label_replace(up{{{EXPORTER_JOB_SELECTOR}, exporter=""}} == 0, "exporter", "$1", "instance", "(.*)")')


def common_alerts() -> list[Rule]:
    t = T
    # Probe targets (instance = the device name) the exporter refused lately as not configured there.
    refused = ('label_replace(\n  time() - max by (target) '
               '(vsxi_xivo_exporter_probe_unknown_target_last_timestamp_seconds)'
               f'\n  < {t["probe_unknown_recent_seconds"]},\n  "instance", "$1", "target", "(.*)"\n)')
    return [
        # --- the exporter itself ---
        alert("ExporterDown", _exporter_down(), t["exporter_down_for"], "critical",
              "exporter", "vsxi-xivo-exporter is down",
              "Prometheus cannot scrape the exporter {{ $labels.instance }}: no SBC or PBX is monitored through "
              "it. Stays firing while it is down; the example Alertmanager configuration mutes the alerts of the "
              "devices scraped through it, and its probes' failures."),
        alert("ExporterAbsent", f"absent(up{{{EXPORTER_JOB_SELECTOR}}})", t["exporter_absent_for"], "critical",
              "exporter", "No vsxi-xivo-exporter is scraped at all",
              "Prometheus has no target for the exporter's scrape jobs (" + EXPORTER_JOB_SELECTOR.replace('"', "'")
              + "): a relabelling, a service discovery or a ServiceMonitor that stopped matching, or a job renamed. "
              "No `up` series exists, so VsxiXivoExporterDown cannot fire, and nothing is monitored. Stays firing "
              "until a target is scraped again."),
        alert("ConfigReloadFailed", "vsxi_xivo_exporter_config_last_reload_successful == 0",
              t["config_broken_for"], "warning", "exporter",
              "vsxi-xivo-exporter refused its configuration file",
              "The last reload (SIGHUP or POST /-/reload) found the configuration invalid: the exporter runs "
              "the previous one, and the change is not in force. Its log names the file and the key.",
              subject="{{ $labels.instance }}"),
        alert("InventoryFileNotApplied", "vsxi_xivo_exporter_inventory_file_ok == 0",
              t["config_broken_for"], "warning", "exporter",
              "vsxi-xivo-exporter cannot apply an inventory file",
              "The inventory file could not be read or checked: its last good targets are kept, and the "
              "devices it adds, changes or removes are not. Its log names the entry and the problem.",
              subject="{{ $labels.instance }}, {{ $labels.file }}"),
        # Polls the exporter itself dropped (not a device's fault): its rounds take longer than the interval, or
        # the answers in flight fill its memory budget. One exporter-wide alert per reason, never one per device.
        alert("ExporterOverloaded",
              f'sum by (job, instance, reason) (\n  increase(vsxi_xivo_exporter_poll_errors_total'
              f'{{reason=~"round_overrun|memory_budget"}}[{t["overload_window"]}])\n) >= {t["overload_min_polls"]}',
              t["overload_for"], "warning", "exporter",
              "vsxi-xivo-exporter drops polls",
              "{{ $value }} polls dropped by the exporter itself in the last " + t["overload_window"] + ": "
              "round_overrun, a device's round took its whole interval and the next was skipped (slow devices, a "
              "too short interval, too few concurrent slots); memory_budget, the answers in flight already held "
              "global.max_in_flight_bytes (devices sending huge answers). Data of those devices age meanwhile. "
              "Stays firing while polls keep being dropped; resolves " + t["overload_window"] + " after the "
              "last ones.", subject="{{ $labels.instance }} ({{ $labels.reason }})"),
        alert("ProbeTargetUnknown", f"up{{{PROBE_JOB_SELECTOR}}} == 0\nand on (instance)\n{refused}",
              t["probe_failing_for"], "warning", "exporter",
              "Probe target not configured in the exporter",
              "Job {{ $labels.job }} probes {{ $labels.instance }}, and the exporter answers 400: the name is not "
              "in its configuration (or, with --config.shard, the probe is routed to a replica that does not poll "
              "it). The exporter itself is up; no device alert is muted by this."),
        alert("ProbeFailing", f"up{{{PROBE_JOB_SELECTOR}}} == 0\nunless on (instance)\n{refused}",
              t["probe_failing_for"], "warning", "exporter",
              "Cannot probe a device through the exporter",
              "Job {{ $labels.job }} gets no answer from the exporter for device {{ $labels.instance }}: the "
              "exporter is down, unreachable, or slower than the scrape timeout. VsxiXivoExporterDown tells "
              "whether the exporter itself is down."),
        # An HA standby (its family's standby series 1) refuses every poll: healthy, its collectors fail by design.
        alert("CollectorFailing", _per_family(0, "{} == 0", "\nor "),
              t["collector_failing_for"], "warning", "collector",
              "A collector is failing",
              "The {{ $labels.collector }} poll of {{ $labels.target }} has failed for "
              f"{t['collector_failing_for']}; the reason is in vsxi_xivo_exporter_poll_errors_total and on "
              "the exporter's landing page."),
        alert("DataStale",
              _per_family(1, "time() - {} > " + str(t["data_stale_seconds"]), "\nor\n", unless_on="\n"),
              "0m", "warning", "collector", "A collector's data is stale",
              "No successful poll of {{ $labels.collector }} on {{ $labels.target }} for "
              "{{ $value | humanizeDuration }}; its series have been dropped."),
        # --- reachability and authentication ---
        alert("DeviceFlapping", _flapping(t), t["flapping_for"], "warning", "device",
              "A device keeps going down and up",
              "{{ $labels.target }} was down in {{ $value | humanizePercentage }} of the last "
              + t["flapping_window"] + " and changed state at least " + str(t["flapping_min_changes"]) + " times: "
              "a device that answers one poll in a few, which never stays down long enough for its unreachable "
              "alert. Stays firing while it flaps; resolves once the last " + t["flapping_window"] + " no longer "
              "shows it."),
        alert("SiteUnreachable", _site_down(t), t["device_down_for"], "critical", "site",
              "Many devices unreachable at one site",
              "{{ $value }} SBCs and PBXs of " + SITE_LABEL + " '{{ $labels." + SITE_LABEL + " }}' (every scrape "
              "job together; an empty " + SITE_LABEL + ": the targets without one) are down at once for " +
              t["device_down_for"] + ", at least " + str(t["site_down_min_targets"]) + " and " +
              f"{t['site_down_ratio']:.0%}" + " of them: more likely a site, link or network outage than that "
              "many device faults. Their own unreachable alerts carry the " + SITE_LABEL + " label, for "
              "Alertmanager to mute under this one; the exporter's landing page lists them with their reasons. "
              "Stays firing while that many stay down; resolves when fewer are."),
        *_certificates(t),
    ]


def alerts() -> list[Rule]:
    return [*common_alerts(), *(rule for m in monitorings() for rule in m.alerts())]


def rule_files() -> dict[str, dict]:
    return {
        "recording.yml": {"groups": [
            {"name": "vsxi-xivo-recording", "rules": [rule for m in monitorings() for rule in m.recording_rules()]},
            {"name": "vsxi-xivo-capacity", "interval": CAPACITY_INTERVAL, "rules": capacity_rules()}]},
        "alerts.yml": {"groups": [{"name": "vsxi-xivo-alerts", "rules": alerts()}]},
    }

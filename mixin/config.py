"""The thresholds of the alerts every family shares, and where the rules point. Change them here, run
``python -m mixin``. A family's own thresholds are in its package, ``exporter/<family>/monitoring/config.py``.

Durations are PromQL durations; ratios are 0-1. The `for` values are long enough not to page on a blip:
the exporter polls every 30 s by default, so 5m is ten polls.
"""

# Which Prometheus jobs scrape what. Match them to your scrape config; the defaults match the README's
# examples (one job for the whole exporter, one per device through /probe) and examples/prometheus/*.yml
# (`vsxi-xivo-exporter` for the exporters' own /metrics, `vsxi-xivo-devices-N` per device).
# - EXPORTER_JOB_SELECTOR: jobs scraping an exporter's /metrics (its `up` is the exporter's life);
# - PROBE_JOB_SELECTOR: jobs scraping /probe?target=NAME (their `up` is 0 when the exporter is down, too slow,
#   or does not know NAME: VsxiXivoProbeTargetUnknown tells the last apart).
EXPORTER_JOB_SELECTOR = 'job=~"vsxi|vsxi-xivo-exporter.*"'
PROBE_JOB_SELECTOR = 'job=~"vsxi-probe|vsxi-xivo-devices.*"'

# Where each alert's runbook_url points: docs/runbooks.md of the repository, one section per alert.
# The label of vsxi_xivo_target_info (a target's own labels from the configuration) that says where a device
# is: devices down together at one site page once (VsxiXivoSiteUnreachable), and each device's own unreachable
# alert carries it so that Alertmanager can mute it under its site's.
SITE_LABEL = "site"

# The evaluation interval of the capacity group (daily peaks: figures that move by the day).
CAPACITY_INTERVAL = "5m"

RUNBOOK_URL = "https://github.com/vsxi-xivo-exporter/vsxi-xivo-exporter/blob/main/docs/runbooks.md"

THRESHOLDS = {
    # exporter and reachability
    "exporter_down_for": "5m",
    "exporter_absent_for": "15m",  # no target at all in the exporter's scrape jobs
    "config_broken_for": "10m",  # a reload refused, or an inventory file not applied, this long
    # Polls dropped by the exporter itself (reasons round_overrun, memory_budget): at least this many in the
    # window, for this long.
    "overload_window": "15m",
    "overload_min_polls": 3,
    "overload_for": "15m",
    "probe_failing_for": "5m",  # a /probe scrape failing (exporter too slow, down, or the name unknown)
    "probe_unknown_recent_seconds": 300,  # the exporter refused the name this recently
    "device_down_for": "5m",  # a family's <family>_up == 0 (HA standby nodes left out)
    # A device down in flapping_down_ratio of the polls of flapping_window, changing state flapping_min_changes
    # times or more (a `for:` resets at every success: such a device never pages as unreachable).
    "flapping_window": "1h",
    "flapping_down_ratio": 0.2,
    "flapping_min_changes": 6,
    "flapping_for": "10m",
    # A site lost at once pages once: VsxiXivoSiteUnreachable, when at least this many of a site's devices and
    # this share of them are down, counted over every scrape job (targets without the site label form one
    # group); the example Alertmanager config then mutes their own unreachable alerts.
    "site_down_min_targets": 3,
    "site_down_ratio": 0.25,
    # Authentication refused in at least this many poll rounds of this window, the last one included: one
    # refused login among successes is no page; a changed password is, from its second round.
    "auth_failing_window": "15m",
    "auth_failing_min_rounds": 2,
    "collector_failing_for": "15m",
    "data_stale_seconds": 600,  # a collector without success for this long
    # The certificate a device presents (vsxi_xivo_target_certificate_expiry_timestamp_seconds): warning this
    # many days before it expires, critical this many, and expired. An expired SBC certificate stops the
    # polling (with verification on) and, where it also serves SIP over TLS, the calls.
    "certificate_warning_days": 21,
    "certificate_critical_days": 7,
    "certificate_for": "1h",
}

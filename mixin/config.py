"""Every threshold of the shipped alerts, in one place. Change them here, run ``python -m mixin``.

Durations are PromQL durations; ratios are 0-1. The `for` values are long enough not to page on a blip:
the exporter polls every 30 s by default, so 5m is ten polls.
"""

# Which Prometheus jobs scrape what. Match them to your scrape config; the defaults match the README's
# examples (`vsxi` for the whole exporter, `vsxi-probe` per device) and examples/prometheus/*.yml
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

RUNBOOK_URL = "https://github.com/vsxi-xivo-exporter/vsxi-xivo-exporter/blob/main/docs/runbooks.md"

THRESHOLDS = {
    # exporter and reachability
    "exporter_down_for": "5m",
    "config_broken_for": "10m",  # a reload refused, or an inventory file not applied, this long
    "probe_failing_for": "5m",  # a /probe scrape failing (exporter too slow, down, or the name unknown)
    "probe_unknown_recent_seconds": 300,  # the exporter refused the name this recently
    "device_down_for": "5m",  # vsxi_up / xivo_up == 0
    # A site lost at once pages once: VsxiXivoSiteUnreachable, when at least this many of a site's devices and
    # this share of them are down (targets without the site label form one group per job); the example
    # Alertmanager config then mutes their own unreachable alerts.
    "site_down_min_targets": 3,
    "site_down_ratio": 0.25,
    "auth_failing_window": "15m",  # any authentication failure in this window
    "collector_failing_for": "15m",
    "data_stale_seconds": 600,  # a collector without success for this long
    "firmware_fields_for": "1h",  # unmapped fields or unreadable values seen this long: a firmware change
    # SBC capacity
    "session_utilisation_high": 0.85,
    "cps_utilisation_high": 0.85,
    "utilisation_for": "10m",
    "exhaustion_lookback": "1h",  # predict_linear input
    "exhaustion_horizon_seconds": 4 * 3600,  # alert when the licence is predicted full within 4 h
    "exhaustion_for": "30m",
    # trunk quality (on the 1h window of stats/resource), guarded by a minimum volume
    "trunk_window": "1h",
    "trunk_min_attempts": 20,
    "trunk_asr_low": 0.30,
    "trunk_failure_ratio_high": 0.20,
    "trunk_pdd_high_seconds": 5.0,
    "trunk_quality_for": "15m",
    # media and HA
    "media_server_down_for": "2m",
    "ha_change_window": "10m",
    # registrations: sharp drop against a short while ago
    "registrations_drop_ratio": 0.7,  # below 70% of what it was
    "registrations_drop_offset": "15m",
    "registrations_min": 50,
    "registrations_drop_for": "5m",
    # XiVO
    "queue_no_agent_for": "2m",
    # contact centre (queue_status collector): the service level a supervisor holds a queue to (share of
    # answered calls within the queue's own target time), the abandon ratio that pages, on a minimum volume
    "queue_service_level_target": 0.80,
    "queue_service_level_for": "15m",
    "queue_window": "15m",  # the abandon ratio's window (recording rule name carries it)
    "queue_abandon_ratio_high": 0.10,
    "queue_abandon_for": "15m",
    "queue_min_calls": 10,  # answered + abandoned in queue_window (abandon) or 1h (service level)
    "sip_peers_drop_ratio": 0.8,
    "sip_peers_drop_offset": "30m",
    "sip_peers_min": 10,
    "sip_peers_drop_for": "5m",
    "trunk_registration_lost_for": "5m",
    "devices_not_configured_for": "1h",
}

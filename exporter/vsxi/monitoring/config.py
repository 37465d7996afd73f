"""Every threshold of the VSXi family's alerts. Change them here, run ``python -m mixin``; the thresholds all
families share (device down, authentication failing) are in mixin/config.py.

Durations are PromQL durations; ratios are 0-1.
"""

THRESHOLDS = {
    "firmware_fields_for": "1h",  # unmapped fields or unreadable values seen this long: a firmware change
    # SBC capacity
    "session_utilisation_high": 0.85,
    "cps_utilisation_high": 0.85,
    "utilisation_for": "10m",
    "exhaustion_lookback": "1h",  # predict_linear input
    "exhaustion_horizon_seconds": 4 * 3600,  # alert when the licence is predicted full within 4 h
    "exhaustion_for": "30m",
    # Two levels where operators use two (Checkmk's Sansay checks: 80% warning, 90% critical). The example
    # Alertmanager config mutes the warning while the critical of the same alert and object fires.
    "trunk_utilisation_warning": 0.80,  # a trunk group's sessions against its limit
    "trunk_utilisation_critical": 0.90,
    "trunk_utilisation_for": "10m",
    "trunk_cps_utilisation_warning": 0.80,  # a trunk group's call attempts per second against its CPS limit
    "trunk_cps_utilisation_critical": 0.90,
    "trunk_cps_utilisation_for": "5m",  # shorter: calls over the CPS limit are refused at once
    "refused_window": "10m",  # any call refused over the licence or the CPS limit in this window
    "cpu_busy_warning": 0.80,  # 1 - cpu_idle_percent
    "cpu_busy_critical": 0.90,
    "cpu_busy_for": "15m",  # long: a burst of CPU is no incident, a busy quarter of an hour is
    "media_utilisation_warning": 0.80,  # a media server's sessions against its limit
    "media_utilisation_critical": 0.90,
    "media_utilisation_for": "10m",
    # A sudden collapse of active sessions on an SBC still up (a carrier or the core network gone): below this
    # share of their mean over 10 minutes, sessions_collapse_offset ago, with at least sessions_collapse_min
    # then. An evening decline loses a few percent in that time and stays silent.
    "sessions_collapse_ratio": 0.5,
    "sessions_collapse_offset": "15m",
    "sessions_collapse_min": 50,
    "sessions_collapse_for": "5m",
    "restart_window": "30m",  # an SBC restart (its session-attempt counter reset) is shown this long
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
    "ha_peer_unhealthy_for": "5m",  # ha_remote_status not 0 on a node of an HA pair
    # registrations: sharp drop against a short while ago
    "registrations_drop_ratio": 0.7,  # below 70% of what it was
    "registrations_drop_offset": "15m",
    "registrations_min": 50,
    "registrations_drop_for": "5m",
}

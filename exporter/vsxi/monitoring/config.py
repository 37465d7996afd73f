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
}

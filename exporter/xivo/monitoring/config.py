"""Every threshold of the XiVO family's alerts. Change them here, run ``python -m mixin``; the thresholds all
families share (device down, authentication failing) are in mixin/config.py.

Durations are PromQL durations; ratios are 0-1.
"""

THRESHOLDS = {
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
    # Asterisk restarted or reloaded (amid CoreStatus start-up and reload times changed): shown this long. A
    # planned change is silenced by target for its window (docs/runbooks.md).
    "restart_window": "30m",
    # SIP trunks (xivo_sip_trunk_status, from Asterisk's qualify pings): unreachable this long pages; lagged,
    # or a round trip above sip_trunk_rtt_high_seconds, this long warns.
    "sip_trunk_unreachable_for": "5m",
    "sip_trunk_lagged_for": "10m",
    "sip_trunk_rtt_high_seconds": 0.5,
}

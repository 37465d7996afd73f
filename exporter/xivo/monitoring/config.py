"""Every threshold of the XiVO family's alerts. Change them here, run ``python -m mixin``; the thresholds all
families share (device down, authentication failing) are in mixin/config.py.

Durations are PromQL durations; ratios are 0-1.
"""

THRESHOLDS = {
    # Callers waiting and nobody to answer: no member logged in, or every member logged in paused (a queue
    # whose members are all on calls is busy, not unstaffed).
    "queue_unstaffed_for": "2m",
    # The longest wait above this many times the queue's own service-level target (QueueParams ServiceLevel).
    "queue_wait_target_factor": 2,
    "queue_wait_for": "5m",
    "queue_full_for": "2m",  # callers at the queue's maximum (QueueParams Max, when set)
    # contact centre (queue_status collector): the service level a supervisor holds a queue to (share of
    # answered calls within the queue's own target time), the abandon ratio that pages, on a minimum volume
    "queue_service_level_target": 0.80,
    "queue_service_level_for": "15m",
    "queue_window": "15m",  # the abandon ratio's window (recording rule name carries it)
    "queue_abandon_ratio_high": 0.10,
    "queue_abandon_for": "15m",
    # The service level is the last hour's (the share since the queue's last reset moves slowly): answered calls
    # in the hour (service level) or answered + abandoned in queue_window (abandon ratio), at least this many.
    "queue_min_calls": 10,
    # Reachable SIP peers below this share of their level before the drop (sip_peers_drop_offset earlier, held
    # while the drop lasts), from at least sip_peers_min.
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

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
    # Licence exhaustion, forecast from the daily peaks of active sessions (never from the hours of one day: a
    # morning ramp is no growth): the peaks of the last exhaustion_lookback, extended exhaustion_horizon_days,
    # reach the licence, today's peak is above exhaustion_level_ratio of it, and there are exhaustion_history
    # of peaks.
    "exhaustion_lookback": "7d",
    "exhaustion_horizon_days": 28,
    "exhaustion_level_ratio": 0.7,
    "exhaustion_history": "6d",
    "exhaustion_for": "1h",
    # Two levels where operators use two (Checkmk's Sansay checks: 80% warning, 90% critical). The example
    # Alertmanager config mutes the warning while the critical of the same alert and object fires.
    "trunk_utilisation_warning": 0.80,  # a trunk group's sessions against its limit
    "trunk_utilisation_critical": 0.90,
    "trunk_utilisation_for": "10m",
    "trunk_cps_utilisation_warning": 0.80,  # a trunk group's call attempts per second against its CPS limit
    "trunk_cps_utilisation_critical": 0.90,
    "trunk_cps_utilisation_for": "5m",  # shorter: calls over the CPS limit are refused at once
    # Calls refused over the licence or the CPS limit: at least refused_min_calls in refused_window (one refusal
    # at a peak's crest is no page).
    "refused_window": "10m",
    "refused_min_calls": 3,
    "cpu_busy_warning": 0.80,  # 1 - cpu_idle_percent
    "cpu_busy_critical": 0.90,
    "cpu_busy_for": "15m",  # long: a burst of CPU is no incident, a busy quarter of an hour is
    "media_utilisation_warning": 0.80,  # a media server's sessions against its limit
    "media_utilisation_critical": 0.90,
    "media_utilisation_for": "10m",
    # A sudden collapse of active sessions on an SBC still up (a carrier or the core network gone): below this
    # share of their level before the drop (their mean over 10 minutes, sessions_collapse_offset ago, held
    # while the drop lasts), with at least sessions_collapse_min then. An evening decline loses a few percent in
    # that time and stays silent; an SBC through an HA change in the last sessions_collapse_ha_grace is left out.
    "sessions_collapse_ratio": 0.5,
    "sessions_collapse_offset": "15m",
    "sessions_collapse_min": 50,
    "sessions_collapse_for": "5m",
    "sessions_collapse_ha_grace": "30m",
    # Many SBCs collapsing together page once (VsxiXivoFleetSessionsCollapsed): at least this many, and this
    # share of the SBCs carrying traffic.
    "fleet_collapse_min_targets": 5,
    "fleet_collapse_ratio": 0.10,
    "restart_window": "30m",  # an SBC restart (its session-attempt counter reset) is shown this long
    "restart_for": "2m",  # and read on consecutive polls (a one-poll glitch is not a restart)
    # trunk quality (on the 1h window of stats/resource), guarded by a minimum volume
    "trunk_window": "1h",
    "trunk_min_attempts": 20,
    "trunk_asr_low": 0.30,
    "trunk_failure_ratio_high": 0.20,
    "trunk_pdd_high_seconds": 5.0,
    "trunk_quality_for": "15m",
    # A trunk whose calls stopped (a carrier that no longer sends or takes them): its 15-minute attempts below
    # this share of their level before (trunk_stopped_offset ago, held while it lasts), with at least
    # trunk_stopped_min_attempts then.
    "trunk_stopped_ratio": 0.1,
    "trunk_stopped_offset": "30m",
    "trunk_stopped_min_attempts": 20,
    "trunk_stopped_for": "10m",
    # One trunk name (a carrier) degraded on this many SBCs at once pages once (VsxiXivoCarrierDegraded).
    "carrier_min_targets": 3,
    # media and HA
    "media_server_down_for": "2m",
    "ha_change_window": "10m",
    "ha_peer_unhealthy_for": "5m",  # ha_remote_status (or ha_local_status) not 0 on a node of an HA pair
    "flow_control_for": "5m",  # flow_control_lev above 0: the SBC throttles new calls
    # registrations: below this share of their level before the drop (registrations_drop_offset ago, held while
    # the drop lasts)
    "registrations_drop_ratio": 0.7,  # below 70% of what it was
    "registrations_drop_offset": "15m",
    "registrations_min": 50,
    "registrations_drop_for": "5m",
}

"""XiVO metrics: the catalogue, and pure functions from parsed records to series (``catalog.Builder``).

Users, lines and devices are counted, never labelled; queue and trunk names are bounded and fine as labels.
"""

from __future__ import annotations

from exporter.catalog import Builder, Catalog
from exporter.xivo import parse as p

CATALOG = Catalog(order=2)  # exposition order: VSXi first, then XiVO
TARGET = ("target",)
TARGET_COLLECTOR = ("target", "collector")

UP = CATALOG.gauge("xivo_up", TARGET,
                   "1 when the last poll round of the PBX authenticated and got at least one collector.",
             "status")
COLLECTOR_SUCCESS = CATALOG.gauge("xivo_collector_success", TARGET_COLLECTOR,
                                  "1 when the last poll of this collector succeeded.",
                            "status")
COLLECTOR_LAST_SUCCESS = CATALOG.gauge("xivo_collector_last_success_timestamp_seconds", TARGET_COLLECTOR,
                                 "Unix time of the last successful poll of this collector; its series are dropped "
                                 "when older than 3 poll intervals.", "status")
COLLECTOR_DURATION = CATALOG.gauge("xivo_collector_duration_seconds", TARGET_COLLECTOR,
                             "Duration of the last poll of this collector (all its requests and parsing).", "status")
COLLECTOR_BYTES = CATALOG.gauge("xivo_collector_response_bytes", TARGET_COLLECTOR,
                          "Bytes received by the last poll of this collector.", "status")

OBJECTS = CATALOG.gauge("xivo_objects", ("target", "kind"),
                  "Objects configured on the PBX, by confd collection (confd GET /1.1/<kind>?limit=1, total; "
                  "on Wazo with recurse=true: every tenant the account sees).",
                  "objects")
OBJECTS_UNSUPPORTED = CATALOG.gauge("xivo_objects_unsupported", ("target", "kind"),
                              "1 for a confd collection this PBX does not have (404; older XiVO); not an error.",
                              "objects")
LINES = CATALOG.gauge("xivo_lines", ("target", "protocol"),
                "Lines by protocol (confd GET /1.1/lines?protocol=<protocol>&limit=1, total; recurse=true on "
                "Wazo).", "objects")
DEVICES = CATALOG.gauge("xivo_devices", ("target", "status"),
                  "Devices by provisioning status (confd GET /1.1/devices, all pages, status).", "devices")
AGENTS = CATALOG.gauge("xivo_agents", TARGET, "Agents (agentd GET /1.0/agents).", "agents")
AGENTS_LOGGED_IN = CATALOG.gauge("xivo_agents_logged_in", TARGET, "Agents logged in (agentd GET /1.0/agents, logged).",
                           "agents")
AGENTS_PAUSED = CATALOG.gauge("xivo_agents_paused", TARGET,
                              "Agents paused (agentd GET /1.0/agents, paused); absent on PBXs "
                        "without a pause state (upstream XiVO).", "agents")
TARGET_QUEUE = ("target", "queue")
QUEUE_CALLERS = CATALOG.gauge("xivo_queue_callers", TARGET_QUEUE,
                              "Callers waiting in the queue (amid QueueSummary Callers).",
                        "queues")
QUEUE_AVAILABLE = CATALOG.gauge("xivo_queue_agents_available", TARGET_QUEUE,
                          "Queue members available to take a call (amid QueueSummary Available).", "queues")
QUEUE_LOGGED_IN = CATALOG.gauge("xivo_queue_agents_logged_in", TARGET_QUEUE,
                                "Queue members logged in (amid QueueSummary LoggedIn).",
                          "queues")
QUEUE_LONGEST_HOLD = CATALOG.gauge("xivo_queue_longest_hold_seconds", TARGET_QUEUE,
                             "Longest wait of a caller now in the queue (amid QueueSummary LongestHoldTime).",
                             "queues")
QUEUE_HOLD = CATALOG.gauge("xivo_queue_hold_time_seconds", TARGET_QUEUE,
                           "Average hold time (amid QueueSummary HoldTime).",
                     "queues")
QUEUE_TALK = CATALOG.gauge("xivo_queue_talk_time_seconds", TARGET_QUEUE,
                           "Average talk time (amid QueueSummary TalkTime).",
                     "queues")
CURRENT_CALLS = CATALOG.gauge("xivo_current_calls", TARGET, "Calls in progress (amid CoreStatus CoreCurrentCalls).",
                        "channels")
CHANNELS = CATALOG.gauge("xivo_channels", ("target", "state"),
                   "Asterisk channels by state (amid CoreShowChannels, ChannelStateDesc); channels are not calls.",
                   "channels")
CORE_STARTUP = CATALOG.gauge("xivo_core_startup_timestamp_seconds", TARGET,
                             "Unix time Asterisk started (amid CoreStatus CoreStartupDate and CoreStartupTime, "
                             "local time read in the target's timezone): it changes when the PBX restarts.",
                             "channels")
CORE_RELOAD = CATALOG.gauge("xivo_core_reload_timestamp_seconds", TARGET,
                            "Unix time Asterisk last reloaded its configuration (amid CoreStatus CoreReloadDate and "
                            "CoreReloadTime, local time read in the target's timezone).", "channels")
SIP_PEERS = CATALOG.gauge("xivo_sip_peers", ("target", "status"),
                    "chan_sip peers by status: ok, lagged, unreachable, unknown, unmonitored (amid SIPpeers).", "sip")
TRUNK_REGISTERED = CATALOG.gauge("xivo_trunk_registered", ("target", "trunk"),
                           "1 when the trunk registration is up (amid SIPshowregistry State on XiVO, as "
                           "username@host; calld GET /1.0/trunks registered on Wazo, by name; none for a trunk "
                           "that does not register, registered null).", "sip")
GENERATION = CATALOG.gauge("xivo_generation_info", ("target", "generation"),
                     "1, with the generation the exporter polls this PBX as: xivo (chan_sip, amid SIPpeers and "
                     "SIPshowregistry) or wazo (calld GET /1.0/trunks and /1.0/lines); detected from calld/ctid-ng "
                     "GET /1.0/api/api.yml unless the config sets generation.", "sip")
TRUNK_CALLS = CATALOG.gauge("xivo_trunk_current_calls", ("target", "trunk"),
                      "Calls on the trunk (Wazo calld GET /1.0/trunks current_call_count).", "sip")
LINES_REGISTRATION = CATALOG.gauge("xivo_lines_registration", ("target", "state"),
                             "Lines registered or not (Wazo calld GET /1.0/lines registered).", "sip")
SIP_TRUNK_STATUS = CATALOG.gauge(
    "xivo_sip_trunk_status", ("target", "trunk", "status"),
    "1 for the SIP trunk's qualify status, 0 for the others: ok, lagged, unreachable, unknown, unmonitored. XiVO: "
    "chan_sip peers with a configured host, Dynamic no [assumed: trunks; phones register] (amid SIPpeers Status); "
    "Wazo: calld's SIP trunks by their PJSIP contacts (amid PJSIPShowContacts Status: Reachable is ok, "
    "NonQualified unmonitored; the best contact counts).", "sip")
SIP_TRUNK_RTT = CATALOG.gauge(
    "xivo_sip_trunk_qualify_rtt_seconds", ("target", "trunk"),
    "Round trip of the SIP trunk's last qualify (OPTIONS) ping: amid SIPpeers Status 'OK (12 ms)' or "
    "'LAGGED (1200 ms)' on XiVO, PJSIPShowContacts RoundtripUsec of a reachable contact on Wazo; absent "
    "when not measured.", "sip")

# Contact-centre figures (amid QueueStatus). Asterisk keeps the counts since the queue's last reset or reload:
# counters whose resets rate() and increase() handle.
QS = "queue_status"
QUEUE_COMPLETED = CATALOG.counter("xivo_queue_calls_completed_total", TARGET_QUEUE,
                                  "Calls answered by a member since the queue's last reset or reload (amid QueueStatus "
                                  "QueueParams Completed).", QS)
QUEUE_ABANDONED = CATALOG.counter("xivo_queue_calls_abandoned_total", TARGET_QUEUE,
                                  "Callers who hung up before an answer, since the queue's last reset or reload (amid "
                                  "QueueStatus QueueParams Abandoned).", QS)
QUEUE_SL_TARGET = CATALOG.gauge("xivo_queue_service_level_target_seconds", TARGET_QUEUE,
                                "The queue's service-level target: the answer time a call should meet (amid "
                                "QueueStatus QueueParams ServiceLevel).", QS)
QUEUE_SL = CATALOG.gauge("xivo_queue_service_level_ratio", TARGET_QUEUE,
                         "Share of the calls answered since the last reset that were answered within the target "
                         "(amid QueueStatus QueueParams ServiceLevelPerf / 100); absent until a call is answered.",
                         QS)
QUEUE_SL_OFFERED = CATALOG.gauge("xivo_queue_service_level_offered_ratio", TARGET_QUEUE,
                                 "The same, calls abandoned within the target counted as met, of answered and "
                                 "abandoned calls (amid QueueStatus QueueParams ServiceLevelPerf2 / 100, newer "
                                 "Asterisk); absent where the PBX does not give it or no call counts yet.", QS)
QUEUE_MAX = CATALOG.gauge("xivo_queue_max_callers", TARGET_QUEUE,
                          "Most callers the queue takes at once; 0: no limit (amid QueueStatus QueueParams Max).", QS)
QUEUE_INFO = CATALOG.gauge("xivo_queue_info", ("target", "queue", "strategy"),
                           "1, with the queue's ring strategy (amid QueueStatus QueueParams Strategy).", QS)
TARGET_QUEUE_MEMBER = ("target", "queue", "member")
MEMBER_CALLS = CATALOG.counter("xivo_queue_member_calls_taken_total", TARGET_QUEUE_MEMBER,
                               "Calls the member answered in this queue (amid QueueStatus QueueMember CallsTaken); "
                               "only with queue_members: true.", QS)
MEMBER_PAUSED = CATALOG.gauge("xivo_queue_member_paused", TARGET_QUEUE_MEMBER,
                              "1 while the member is paused in this queue (amid QueueStatus QueueMember Paused); "
                              "only with queue_members: true.", QS)
MEMBER_IN_CALL = CATALOG.gauge("xivo_queue_member_in_call", TARGET_QUEUE_MEMBER,
                               "1 while the member is on a call of this queue (amid QueueStatus QueueMember InCall, "
                               "newer Asterisk); only with queue_members: true.", QS)
MEMBER_LAST_CALL = CATALOG.gauge("xivo_queue_member_last_call_timestamp_seconds", TARGET_QUEUE_MEMBER,
                                 "Unix time the member's last call of this queue ended; 0: none yet (amid "
                                 "QueueStatus QueueMember LastCall); only with queue_members: true.", QS)
UNREADABLE = CATALOG.gauge("xivo_collector_unreadable_values", ("target", "collector", "field"),
                           "Values of a known numeric field in the last answer that are present but no number the "
                           "exporter reads: those queues or members lack that field's series. Absent when all "
                           "read.", QS)


def build_objects(b: Builder, target: str, rec: p.Objects) -> None:
    """xivo_objects{kind="users",target="pbx-1"} 120
    xivo_objects_unsupported{kind="queues",target="pbx-1"} 1"""
    for kind, total in rec.totals.items():
        b.add(OBJECTS, (target, kind), total)
    for kind in rec.unsupported:
        b.add(OBJECTS_UNSUPPORTED, (target, kind), 1)
    for proto, total in rec.lines_by_protocol.items():
        b.add(LINES, (target, proto), total)


def build_devices(b: Builder, target: str, rec: p.Devices) -> None:
    """xivo_devices{status="configured",target="pbx-1"} 70"""
    for status in sorted({"configured", "autoprov", "not_configured", *rec.by_status}):
        b.add(DEVICES, (target, status), rec.by_status.get(status, 0))


def build_agents(b: Builder, target: str, rec: p.Agents) -> None:
    """xivo_agents{target="pbx-1"} 12"""
    b.add(AGENTS, (target,), rec.total)
    b.add(AGENTS_LOGGED_IN, (target,), rec.logged_in)
    b.add(AGENTS_PAUSED, (target,), rec.paused)


def build_queues(b: Builder, target: str, rec: tuple[p.QueueStats, ...]) -> None:
    """xivo_queue_callers{queue="support",target="pbx-1"} 3"""
    for q in rec:
        labels = (target, q.queue)
        b.add(QUEUE_CALLERS, labels, q.callers)
        b.add(QUEUE_AVAILABLE, labels, q.available)
        b.add(QUEUE_LOGGED_IN, labels, q.logged_in)
        b.add(QUEUE_LONGEST_HOLD, labels, q.longest_hold_time)
        b.add(QUEUE_HOLD, labels, q.hold_time)
        b.add(QUEUE_TALK, labels, q.talk_time)


def build_channels(b: Builder, target: str, rec: p.Channels) -> None:
    """xivo_current_calls{target="pbx-1"} 7
    xivo_channels{state="Up",target="pbx-1"} 9
    xivo_core_startup_timestamp_seconds{target="pbx-1"} 1.7636256e+09"""
    b.add(CURRENT_CALLS, (target,), rec.current_calls)
    for state, n in sorted(rec.by_state.items()):
        b.add(CHANNELS, (target, state), n)
    b.add(CORE_STARTUP, (target,), rec.started)
    b.add(CORE_RELOAD, (target,), rec.reloaded)


def build_sip(b: Builder, target: str, rec: p.Sip) -> None:
    """xivo_sip_peers{status="ok",target="pbx-1"} 24
    xivo_trunk_registered{target="pbx-1",trunk="trunk1@sip1.carrier.example"} 1"""
    for status, n in (rec.peers_by_status or {}).items():
        b.add(SIP_PEERS, (target, status), n)
    for trunk, registered in sorted(rec.trunks.items()):
        b.add(TRUNK_REGISTERED, (target, trunk), 1 if registered else 0)
    for trunk, n in sorted(rec.trunk_calls.items()):
        b.add(TRUNK_CALLS, (target, trunk), n)
    for state, n in (rec.lines_by_state or {}).items():
        b.add(LINES_REGISTRATION, (target, state), n)
    if rec.generation:
        b.add(GENERATION, (target, rec.generation), 1)
    for trunk, peer in sorted((rec.trunk_peers or {}).items()):
        for status in p.PEER_STATUSES:
            b.add(SIP_TRUNK_STATUS, (target, trunk, status), 1 if peer.status == status else 0)
        b.add(SIP_TRUNK_RTT, (target, trunk), peer.rtt)


def build_queue_status(b: Builder, target: str, rec: p.QueueStatus) -> None:
    """xivo_queue_calls_completed_total{queue="support",target="pbx-1"} 412
    xivo_queue_calls_abandoned_total{queue="support",target="pbx-1"} 23
    xivo_queue_service_level_target_seconds{queue="support",target="pbx-1"} 20
    xivo_queue_service_level_ratio{queue="support",target="pbx-1"} 0.812
    xivo_queue_info{queue="support",strategy="rrmemory",target="pbx-1"} 1
    xivo_queue_member_paused{member="Alice",queue="support",target="pbx-1"} 0"""
    for q in rec.queues:
        labels = (target, q.queue)
        b.add(QUEUE_COMPLETED, labels, q.completed)
        b.add(QUEUE_ABANDONED, labels, q.abandoned)
        b.add(QUEUE_SL_TARGET, labels, q.service_level_seconds)
        b.add(QUEUE_SL, labels, q.service_level)
        b.add(QUEUE_SL_OFFERED, labels, q.service_level_offered)
        b.add(QUEUE_MAX, labels, q.max_callers)
        b.add(QUEUE_INFO, (target, q.queue, q.strategy), 1)
    for m in rec.members or ():
        labels = (target, m.queue, m.member)
        b.add(MEMBER_CALLS, labels, m.calls_taken)
        b.add(MEMBER_PAUSED, labels, m.paused)
        b.add(MEMBER_IN_CALL, labels, m.in_call)
        b.add(MEMBER_LAST_CALL, labels, m.last_call)
    for field, n in rec.unreadable:
        b.add(UNREADABLE, (target, "queue_status", field), n)

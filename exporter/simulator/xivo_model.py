"""Simulated XiVO 16 / Wazo PBX data, following ``docs/device-apis.md``.

Two generations: ``xivo16`` (separate ports, backend xivo_service, no agent pause state, chan_sip peers and
registrations through amid) and ``wazo`` (API gateway paths, backend wazo_user, paused agents, more confd
collections, calld trunks and lines).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

XIVO16_COLLECTIONS = (
    "users", "lines", "extensions", "devices", "voicemails", "trunks", "incalls", "outcalls", "ivr", "groups",
    "contexts", "endpoints/sip", "endpoints/sccp", "endpoints/custom", "callpermissions", "switchboards",
    "entities", "funckeys/templates", "cti_profiles",
)
WAZO_EXTRA_COLLECTIONS = ("queues", "agents", "conferences", "pagings", "parkinglots", "schedules", "moh",
                          "callpickups", "applications", "tenants")
BACKENDS = {"xivo16": "xivo_service", "wazo": "wazo_user"}
CHANNEL_STATES = ("Up", "Up", "Up", "Ring", "Ringing", "Down")
PEER_STATUSES = ("OK (12 ms)",) * 8 + ("LAGGED (2100 ms)", "UNREACHABLE", "UNKNOWN", "Unmonitored")
TRUNK_STATUSES = ("OK (18 ms)", "LAGGED (1200 ms)", "OK (7 ms)", "UNREACHABLE")


@dataclass
class XivoScale:
    users: int = 120
    devices: int = 90
    agents: int = 12
    queues: int = 3
    channels: int = 14
    trunks: int = 3
    tenants: int = 1  # Wazo: objects spread over this many tenants, the first the exporter's own


def tenant_uuid(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


class XivoModel:
    def __init__(self, generation: str = "xivo16", scale: XivoScale | None = None,
                 clock: Callable[[], float] = time.time):
        assert generation in BACKENDS, generation
        self.generation = generation
        self.scale = scale or XivoScale()
        self.clock = clock
        self.start = clock()
        self.odd_values = False  # one QueueStatus value no number (the demo shows the unreadable-values panel)

    @property
    def wazo(self) -> bool:
        return self.generation == "wazo"

    def _wave(self, phase: float = 0.0) -> float:
        return 0.75 + 0.25 * math.sin((self.clock() - self.start) / 60.0 + phase)

    # --- confd ----------------------------------------------------------------------------------------
    def collections(self) -> tuple[str, ...]:
        return XIVO16_COLLECTIONS + (WAZO_EXTRA_COLLECTIONS if self.wazo else ())

    def items(self, collection: str) -> list[dict]:
        """Every item of ``collection``; on Wazo each carries the tenant_uuid it belongs to (round robin over
        ``scale.tenants``): confd lists only the requesting tenant's unless asked with ``recurse=true``."""
        items = self._items(collection)
        if self.wazo:
            if collection == "tenants":
                return [{"uuid": tenant_uuid(i), "name": f"tenant{i}"} for i in range(self.scale.tenants)]
            for n, item in enumerate(items):
                item["tenant_uuid"] = tenant_uuid(n % self.scale.tenants)
        return items

    def _items(self, collection: str) -> list[dict]:
        s = self.scale
        if collection == "users":
            # XiVO 16 user items carry secrets: the exporter must never log a body.
            return [{"id": i, "firstname": f"User{i}", "lastname": "Test", "password": f"secret{i}",
                     "enabled": True} for i in range(1, s.users + 1)]
        if collection == "lines":
            protos = ("sip",) * 8 + ("sccp", "custom")
            return [{"id": i, "protocol": protos[i % len(protos)], "context": "default"}
                    for i in range(1, s.users + 1)]
        if collection == "devices":
            statuses = ["configured"] * 7 + ["autoprov", "not_configured"] + (["corrupted"] if self.wazo else [])
            return [{"id": f"{i:032x}", "status": statuses[i % len(statuses)], "ip": f"10.1.0.{i % 250}",
                     "mac": f"00:15:65:00:{i // 256:02x}:{i % 256:02x}", "vendor": "Yealink", "model": "T46S",
                     "plugin": "xivo-yealink-v84"} for i in range(s.devices)]
        if collection == "trunks":
            return [{"id": i, "context": "to-extern"} for i in range(1, s.trunks + 1)]
        if collection == "queues":
            return [{"id": i, "name": f"queue{i}"} for i in range(1, s.queues + 1)]
        if collection == "agents":
            return [{"id": i, "number": f"{1000 + i}"} for i in range(1, s.agents + 1)]
        if collection.startswith("endpoints/"):
            proto = collection.split("/", 1)[1]
            return [line for line in self._items("lines") if line["protocol"] == proto]
        count = {"extensions": s.users + 10, "voicemails": s.users // 2, "contexts": 6, "groups": 4}.get(collection, 2)
        return [{"id": i} for i in range(1, count + 1)]

    # --- agentd ---------------------------------------------------------------------------------------
    def agents(self) -> list[dict]:
        out = []
        for i in range(1, self.scale.agents + 1):
            logged = i % 3 != 0
            agent = {"id": i, "number": f"{1000 + i}", "logged": logged, "extension": f"{2000 + i}" if logged
                     else None, "context": "default", "state_interface": f"SIP/abc{i}" if logged else None}
            if self.wazo:
                agent["paused"] = logged and i % 4 == 0
                agent["paused_reason"] = "lunch" if agent["paused"] else None
            out.append(agent)
        return out

    # --- amid (all values strings, AMI message order) -------------------------------------------------
    def ami(self, action: str) -> list[dict] | None:
        ok = {"Response": "Success"}
        if action == "CoreStatus":
            return [{**ok, "CoreStartupDate": "2026-11-20", "CoreStartupTime": "08:00:00",
                     "CoreReloadDate": "2026-11-21", "CoreReloadTime": "03:00:00",
                     "CoreCurrentCalls": str(self._calls())}]
        if action == "CoreShowChannels":
            n = int(self.scale.channels * self._wave())
            events = [{"Event": "CoreShowChannel", "Channel": f"SIP/trunk-{i:08x}",
                       "ChannelStateDesc": CHANNEL_STATES[i % len(CHANNEL_STATES)], "Duration": f"00:0{i % 10}:12",
                       "BridgeId": f"br-{i // 2}"} for i in range(n)]
            return [{**ok, "EventList": "start", "Message": "Channels will follow"}, *events,
                    {"Event": "CoreShowChannelsComplete", "EventList": "Complete", "ListItems": str(n)}]
        if action == "QueueSummary":
            events = []
            for q in range(1, self.scale.queues + 1):
                callers = int(3 * self._wave(q)) if q != 2 else 2
                available = 0 if q == 2 else 2  # queue2: callers waiting and nobody available
                events.append({"Event": "QueueSummary", "Queue": f"queue{q}", "LoggedIn": str(2 + q),
                               "Available": str(available), "Callers": str(callers), "HoldTime": "14",
                               "TalkTime": "180", "LongestHoldTime": str(35 * callers)})
            return [{**ok, "EventList": "start", "Message": "Queue summary will follow"}, *events,
                    {"Event": "QueueSummaryComplete", "EventList": "Complete", "ListItems": str(len(events))}]
        if action == "QueueStatus":
            return [{**ok, "EventList": "start", "Message": "Queue status will follow"}, *self._queue_status(),
                    {"Event": "QueueStatusComplete", "EventList": "Complete", "ListItems": "0"}]
        if action == "SIPpeers" and not self.wazo:
            # Phones register (Dynamic: yes); trunks have a configured host (Dynamic: no).
            peers = [{"Event": "PeerEntry", "Channeltype": "SIP", "ObjectName": f"peer{i}", "ChanObjectType": "peer",
                      "IPaddress": f"10.1.0.{i}", "Dynamic": "yes", "Status": PEER_STATUSES[i % len(PEER_STATUSES)]}
                     for i in range(self.scale.users // 4)]
            peers += [{"Event": "PeerEntry", "Channeltype": "SIP", "ObjectName": f"trunk{i}", "ChanObjectType": "peer",
                       "IPaddress": f"192.0.2.{i}", "Dynamic": "no", "Status": TRUNK_STATUSES[i % len(TRUNK_STATUSES)]}
                      for i in range(1, self.scale.trunks + 1)]
            return [{**ok, "EventList": "start", "Message": "Peer status list will follow"}, *peers,
                    {"Event": "PeerlistComplete", "EventList": "Complete", "ListItems": str(len(peers))}]
        if action == "PJSIPShowContacts" and self.wazo:
            # calld's SIP trunks carrier-N (carrier-2 unreachable) and the lines' contacts (phones).
            contacts = [{"Event": "ContactList", "ObjectType": "contact", "ObjectName": f"carrier-{i}@@1",
                         "Endpoint": f"carrier-{i}", "Uri": f"sip:sip{i}.carrier.example:5060",
                         "Status": "Unreachable" if i == 2 else "Reachable",
                         "RoundtripUsec": "N/A" if i == 2 else str(15000 + 1000 * i), "QualifyFrequency": "60"}
                        for i in range(1, self.scale.trunks + 1)]
            contacts += [{"Event": "ContactList", "ObjectType": "contact", "ObjectName": f"line{i}@@2",
                          "Endpoint": f"line{i}", "Uri": f"sip:line{i}@10.2.0.{i % 250}:5060",
                          "Status": "NonQualified", "RoundtripUsec": "N/A", "QualifyFrequency": "0"}
                         for i in range(1, min(self.scale.users, 20) + 1)]
            return [{**ok, "EventList": "start", "Message": "A listing of Contacts follows, presented as "
                     "ContactList events"}, *contacts,
                    {"Event": "ContactListComplete", "EventList": "Complete", "ListItems": str(len(contacts))}]
        if action == "SIPshowregistry" and not self.wazo:
            regs = [{"Event": "RegistryEntry", "Host": f"sip{i}.carrier.example", "Port": "5060",
                     "Username": f"trunk{i}", "Refresh": "120", "State": "Registered" if i != 2 else "Rejected"}
                    for i in range(1, self.scale.trunks + 1)]
            return [{**ok, "EventList": "start", "Message": "Registrations will follow"}, *regs,
                    {"Event": "RegistrationsComplete", "EventList": "Complete", "ListItems": str(len(regs))}]
        return None

    def _queue_status(self) -> list[dict]:
        """As Asterisk writes it (app_queue, manager QueueStatus): every value a string; ServiceLevelPerf as
        "%2.1f" percent, 0.0 while no call completed; ServiceLevelPerf2 only on Wazo (newer Asterisk); a
        member named in "Name", its interface in "Location". Counts grow with time, as on a live PBX."""
        events = []
        elapsed = int(self.clock() - self.start)
        for q in range(1, self.scale.queues + 1):
            completed = 0 if q == 3 else 40 * q + elapsed // 10  # queue3: nothing answered since its reload
            abandoned = 0 if q == 3 else 3 * q + elapsed // 60
            within = completed * (9 - q) // 10  # queue2 meets its target less often
            params = {"Event": "QueueParams", "Queue": f"queue{q}", "Max": "0" if q != 2 else "25",
                      "Strategy": ("ringall", "rrmemory", "leastrecent")[q % 3], "Calls": str(q - 1),
                      "Holdtime": "14", "TalkTime": "180", "Completed": str(completed),
                      "Abandoned": str(abandoned), "ServiceLevel": "20" if q != 2 else "30",
                      "ServiceLevelPerf": f"{100 * within / completed if completed else 0:2.1f}", "Weight": "0"}
            if self.wazo:
                offered = completed + abandoned
                params["ServiceLevelPerf2"] = f"{100 * (within + abandoned // 2) / offered if offered else 0:2.1f}"
            events.append(params)
            for a in range(2 + q):
                member = {"Event": "QueueMember", "Queue": f"queue{q}", "Name": f"Agent {a + 1}",
                          "Location": f"Local/id-{a + 1}@agentcallback", "StateInterface": f"SIP/agent{a + 1}",
                          "Membership": "dynamic", "Penalty": "0", "CallsTaken": str(completed // (2 + q) + a),
                          "LastCall": str(1_800_000_000 - 60 * a), "LastPause": "0", "Status": "1",
                          "Paused": "1" if a == 0 and q == 2 else "0", "PausedReason": "lunch" if a == 0 else "",
                          "Wrapuptime": "0"}
                if self.wazo:
                    member["InCall"] = "1" if a == 1 else "0"
                if self.odd_values and q == 1 and a == 0:
                    member["CallsTaken"] = ""
                events.append(member)
        return events

    def _calls(self) -> int:
        return int(self.scale.channels * self._wave()) // 2

    # --- ctid-ng / calld ------------------------------------------------------------------------------
    def calls(self) -> list[dict]:
        return [{"call_id": f"{i}.1", "status": "Up", "on_hold": False, "bridges": [], "user_uuid": None}
                for i in range(self._calls())]

    def calld_trunks(self) -> list[dict]:
        sip = [{"id": i, "name": f"carrier-{i}", "technology": "sip", "registered": i != 2,
                "current_call_count": i} for i in range(1, self.scale.trunks + 1)]
        # A trunk without registration (IAX, custom): calld says registered: null.
        return sip + [{"id": self.scale.trunks + 1, "name": "iax-legacy", "technology": "iax", "registered": None,
                       "current_call_count": 0}]

    def calld_lines(self) -> list[dict]:
        return [{"id": i, "name": f"line{i}", "technology": "sip", "registered": i % 5 != 0,
                 "current_call_count": 0} for i in range(1, self.scale.users + 1)]

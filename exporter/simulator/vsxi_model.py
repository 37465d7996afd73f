"""Simulated VSXi data: every stats table, with values that move over time.

Rows are lists of ``(field, value)`` in device order; values are ``str``/``int``/``float`` or None (NULL).
Field names and magnitudes follow ``docs/device-apis.md``; the tables marked [assumed] there
(``resource_detail``, ``sip_stats``, a busy ``gw_realtime_stat``) use the shapes the reference assumes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Row = list[tuple[str, object]]
# A table answer: ("mysqldump", [(table name, rows), ...]) or ("beans", (list tag, item tag, rows)).
Answer = tuple[str, object]

CITIES = ("ATL", "PHL", "NYC", "CHI", "DAL", "LAX", "SEA", "MIA", "DEN", "BOS")
HA_STATES = ("active", "standby", "standalone", "oos", "boot")
SUB_STATES = ("Authenticated",) * 18 + ("Unauthenticated", "Pending", "Blocked")
SUB_PROTOCOLS = ("UDP",) * 7 + ("TCP", "TCP", "TLS v1.2")
SIP_MESSAGES = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx")


@dataclass
class Scale:
    trunks: int = 6
    registrations: int = 200
    calls: int = 120
    media_servers: int = 2
    nodes: int = 2  # per-node rows in XBResourceRealTimeStatList / resource_detail


class VsxiModel:
    """Deterministic for a given clock: tests freeze the clock, the demo lets it run."""

    def __init__(self, scale: Scale | None = None, clock: Callable[[], float] = time.time,
                 ha_state: str = "active", extra_fields: bool = False, busy_gateways: bool = False,
                 field_variants: bool = False):
        self.scale = scale or Scale()
        self.clock = clock
        self.start = clock()
        self.ha_state = ha_state
        self.extra_fields = extra_fields  # add fields no firmware we know of has (unmapped-field tests)
        self.busy_gateways = busy_gateways  # gw_realtime_stat rows, [assumed] shape (only seen empty)
        # Answers as other firmware may write them (issue "device answers as they come in the field"): loose
        # numbers (19,750 and 98%), one value that is no number, HA state capitalised, trunk field names in
        # another case, call durations as HH:MM:SS and "N/A" for unanswered calls, sip_stats per port.
        self.field_variants = field_variants

    # A slow wave so gauges move visibly in the demo (period ~10 min) and counters grow.
    def _wave(self, phase: float = 0.0) -> float:
        t = self.clock() - self.start
        return 0.75 + 0.25 * math.sin(t / 100.0 + phase)

    def _elapsed(self) -> float:
        return max(0.0, self.clock() - self.start)

    def trunk_ids(self) -> list[int]:
        return [1001 + i for i in range(self.scale.trunks)]

    def alias(self, i: int) -> str:
        return f"{CITIES[i % len(CITIES)]}-{CITIES[(i + 3) % len(CITIES)]} VSXs {i // len(CITIES) or ''}".strip()

    def _extra(self, row: Row) -> Row:
        return row + [("fw_new_counter", 42), ("fw_new_label", "x")] if self.extra_fields else row

    # --- mysqldump tables ---------------------------------------------------------------------------------
    def realtime(self) -> Answer:
        w = self._wave()
        active = int(12000 * w)
        system: Row = [
            ("id", 1), ("sum_active_session", active),
            ("sum_attempt_session", 5_000_000 + int(self._elapsed() * 40)),
            ("peak_active_session", 15234), ("max_session_allowed", 19750), ("max_session_exceed", 0),
            ("inbound_sip_leg", active), ("outbound_sip_leg", active), ("peak_sip_leg", 30468),
            ("inbound_h323_leg", 0), ("outbound_h323_leg", 0), ("peak_h323_leg", 0),
            ("cpu_idle_percent", int(60 + 20 * w)), ("flow_control_lev", 0),
            ("cluster_active_session", active), ("cluster_peak_session", 15234), ("demo_lic", -1),
            ("slave_stat", 64), ("ha_pre_state", "standby"), ("ha_current_state", self.ha_state),
            ("ha_remote_status", 0), ("ha_local_status", 0), ("switch_over_flag", 3),
            ("max_cps_allowed", 10000), ("max_cps_exceed", 0), ("current_cps", round(120 * w)),
        ]
        if self.field_variants:
            loose = {"max_session_allowed": "19,750", "cpu_idle_percent": f"{int(60 + 20 * w)}%",
                     "ha_current_state": self.ha_state.capitalize(), "demo_lic": "true"}
            system = [(k, loose.get(k, v)) for k, v in system]
        trunks: list[Row] = []
        for i, tid in enumerate(self.trunk_ids()):
            if i % 3 == 2:
                continue  # only trunks with traffic appear
            tw = self._wave(i)
            orig, term = int(400 * tw), int(300 * tw)
            trunks.append(self._trunk_rt(tid, "Group", orig, term))
            for n in range(self.scale.nodes):
                trunks.append(self._trunk_rt(tid, f"node{n + 1}.sbc.example.net", orig // 2, term // 2))
        return "mysqldump", [
            ("system_stat", [self._extra(system)]),
            ("gw_realtime_stat", self._gateways() if self.busy_gateways else []),
            ("XBResourceRealTimeStatList", trunks),
        ]

    def _gateways(self) -> list[Row]:
        ids = self.trunk_ids()
        return [[("id", i + 1), ("orig_tid", a), ("orig_ip", "203.0.113.5"), ("term_tid", b),
                 ("term_ip", "203.0.113.9"), ("num_active_session", 40 + i), ("peak_active_session", 90),
                 ("active_cps", 2)] for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))]

    def _trunk_rt(self, tid: int, fqdn: str, orig: int, term: int) -> Row:
        row: Row = [("trunkId", tid), ("fqdn", fqdn), ("numOrig", orig), ("numTerm", term), ("cps", 3),
                    ("numPeak", 900), ("totalCLZ", 0), ("numCLZCps", 0), ("totalLimit", 2000), ("cpsLimit", 100)]
        return [(k[0].upper() + k[1:], v) for k, v in row] if self.field_variants else row

    def resource(self) -> Answer:
        grow = self._elapsed() / 60.0
        tables = []
        for table, scale in (("ingress_stat", 1.0), ("gw_egress_stat", 0.8)):
            rows = []
            for i, tid in enumerate(self.trunk_ids()):
                k = scale * (1 + i % 4)
                row: Row = [("id", i + 1), ("trunk_id", tid), ("alias", self.alias(i))]
                for prefix, base in (("1st15mins_", 12), ("1h_", 48), ("24h_", 194)):
                    attempts = int(base * k + (grow if prefix == "24h_" else 0))
                    answers = int(attempts * 0.78)
                    row += [(prefix + "call_attempt", attempts), (prefix + "call_answer", answers),
                            (prefix + "call_fail", int(attempts * 0.07)),
                            (prefix + "call_durationSec", answers * 333),
                            (prefix + "pdd_ms", attempts * 2630)]
                rows.append(self._extra(row))
            tables.append((table, rows))
        return "mysqldump", tables

    def resource_detail(self) -> Answer:  # [assumed] shape
        rows = []
        for i, tid in enumerate(self.trunk_ids()):
            tw = self._wave(i)
            for n in range(self.scale.nodes):
                rows.append(self._extra(self._trunk_rt(tid, f"node{n + 1}.sbc.example.net",
                                                       int(200 * tw), int(150 * tw))))
        return "mysqldump", [("resource_detail", rows)]

    def sip_stats(self) -> Answer:  # [assumed] shape
        grow = int(self._elapsed() * 10)
        rows = []
        for port in (5060, 5061) if self.field_variants else (None,):  # one row per service port
            row: Row = [("id", len(rows) + 1)] + ([("port", port)] if port else [])
            for j, msg in enumerate(SIP_MESSAGES):
                row += [(f"in_{msg}", 100000 // (j + 1) + grow), (f"out_{msg}", 90000 // (j + 1) + grow)]
            rows.append(self._extra(row))
        return "mysqldump", [("sip_stat", rows)]

    # --- bean lists ---------------------------------------------------------------------------------------
    def media_server(self) -> Answer:
        rows = []
        types = ("Internal Media Switching", "External Advanced Hybrid-Media Switching", "Advanced Hybrid-MLT")
        for i in range(self.scale.media_servers):
            rows.append(self._extra([
                ("mediaSrvIndex", i + 1), ("alias", f"MS-{i + 1}"), ("switchType", types[i % 3]),
                ("publicIP", f"198.51.100.{10 + i}"), ("priority", i + 1), ("maxConnections", 4000),
                ("numActiveSessions", int(1500 * self._wave(i))), ("status", "up"),
            ]))
        return "beans", ("XBMediaServerRealTimeStatList", "XBMediaServerRealTimeStat", rows)

    def sub_stats(self) -> Answer:
        trunks = self.trunk_ids()
        # Registrations churn a little so the demo's panels move.
        n = int(self.scale.registrations * (0.95 + 0.05 * self._wave()))
        rows = []
        for i in range(n):
            rows.append(self._extra([
                ("id", i + 1), ("username", f"user{i:06d}"), ("userDomain", "voip.example.net"),
                ("userIp", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"), ("userPort", 5060),
                ("states", SUB_STATES[i % len(SUB_STATES)]), ("nat", "Yes" if i % 4 == 0 else "No"),
                ("trunkId", trunks[i % len(trunks)]), ("spid", 1),
                ("protocol", SUB_PROTOCOLS[i % len(SUB_PROTOCOLS)]),
                ("expiration", "11-22-2026 10:30:00"), ("createTime", "11-22-2026 09:30:00"),
                ("agent", "Yealink SIP-T46S 66.86.0.15"), ("contact", f"sip:user{i:06d}@10.0.0.1:5060"),
                ("pn-param", ""),  # push-notification parameters: empty unless the phone registered with them
            ]))
        return "beans", ("XBSubStatsList", "XBSubStats", rows)

    def active_calls(self) -> Answer:
        trunks = self.trunk_ids()
        n = int(self.scale.calls * self._wave())
        t = int(self._elapsed())
        rows = []
        for i in range(n):
            answered = i % 10 != 0
            seconds = ((i * 37 + t) % 3600) if answered else 0
            ans_time = "11-22-2026 10:00:03" if answered else ""
            duration: object = seconds
            if self.field_variants:
                ans_time = ans_time or "N/A"
                duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            rows.append(self._extra([
                ("ssm_index", i), ("callID", f"{i:08x}@sbc"), ("orig_tid", trunks[i % len(trunks)]),
                ("term_tid", trunks[(i + 1) % len(trunks)]), ("orig_ip", "203.0.113.5"),
                ("term_ip", "203.0.113.9"), ("ani", f"1404555{i % 10000:04d}"), ("dnis", "12155550100"),
                ("inv_time", "11-22-2026 10:00:00"), ("ans_time", ans_time), ("duration", duration),
            ]))
        return "beans", ("XBActiveCallsList", "XBActiveCall", rows)

    def answer(self, table: str) -> Answer:
        return getattr(self, table)()


TABLES = ("realtime", "resource", "resource_detail", "sip_stats", "sub_stats", "active_calls", "media_server")

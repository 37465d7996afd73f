"""The configuration of one PBX (``xivo:`` entries): its target record and its strict check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from exporter.configfile import Checker, type_name
from exporter.keys import Key, Keys, names, required
from exporter.target import Target, check_collectors, check_url, common_target_keys, target_keys
from exporter.xivo.collectors import COLLECTORS as COLLECTOR_TABLE
from exporter.xivo.parse import zone

COLLECTORS = tuple(COLLECTOR_TABLE)
# queue_status is asked for by name: it needs an ACL (amid.action.QueueStatus.create) that accounts made for
# earlier versions lack, and an upgrade must not turn a working PBX's collector red.
DEFAULT_COLLECTORS = tuple(c for c in COLLECTORS if c != "queue_status")
DEFAULT_MAX_QUEUE_MEMBERS = 1000
DEFAULT_MAX_SIP_TRUNKS = 500  # six series each (xivo_sip_trunk_status, _qualify_rtt_seconds)
DIGEST_COLLECTORS = ("objects", "devices")  # digest auth only reaches confd
SERVICES = ("auth", "confd", "agentd", "amid", "calld")
AUTH = ("token", "digest")
BACKENDS = ("xivo_service", "wazo_user")
GENERATIONS = ("auto", "xivo", "wazo")  # auto: asked of the PBX (calld/ctid-ng's own API spec)


@dataclass(frozen=True)
class XivoTarget(Target):
    # url: https://HOST; service URLs default to XiVO's ports on it, or to /api/<service> with api_gateway
    services: dict[str, str] = field(default_factory=dict)  # per-service base URL overrides
    api_gateway: bool = False
    generation: str = "auto"  # xivo (chan_sip, AMI) or wazo (calld trunks and lines); auto detects it
    auth: str = "token"
    backend: str = "xivo_service"
    collectors: tuple[str, ...] = DEFAULT_COLLECTORS
    timezone: str = "UTC"  # the PBX's: Asterisk reports its start-up and reload times in local time
    queue_members: bool = False  # queue_status: per-member series (calls taken, paused), one set per member
    max_queue_members: int = DEFAULT_MAX_QUEUE_MEMBERS  # more members than this: the table fails, not cut
    max_sip_trunks: int = DEFAULT_MAX_SIP_TRUNKS  # more SIP trunks than this: the sip table fails, not cut
    family: str = field(default="xivo", init=False)

    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.services.values())


# Its own keys, after every target's (exporter.target.TARGET_KEYS); ``collectors`` has its own default.
KEYS: Keys = (
    Key("collectors", "list of strings", "all but queue_status (digest: objects, devices)", "The collectors polled, "
        "in this order. `queue_status` (per-queue service level, per-member figures) needs one more ACL, "
        "`amid.action.QueueStatus.create`."),
    Key("services", "mapping", "", "Per-service base URL overrides, keys among " + ", ".join(SERVICES) + " "
        "(default: XiVO's ports on the `url` host: auth :9497/0.1, confd :9486/1.1, agentd :9493/1.0, amid "
        ":9491/1.0, calld (ctid-ng on XiVO) :9500/1.0)."),
    Key("api_gateway", "boolean", "false", "true: the services behind one HTTPS gateway, "
        "`https://HOST/api/<service>/...` (Wazo)."),
    Key("generation", "one of: " + ", ".join(GENERATIONS), "auto", "xivo (chan_sip, AMI registrations) or wazo "
        "(calld trunks and lines); auto asks the PBX."),
    Key("auth", "one of: " + ", ".join(AUTH), "token", "token: a xivo-auth token, renewed before it expires. "
        "digest: legacy confd-only XiVO (only the objects and devices collectors)."),
    Key("backend", "one of: " + ", ".join(BACKENDS), "xivo_service", "The xivo-auth backend of the account: "
        "xivo_service (a XiVO Web Services Access login) or wazo_user (a Wazo external_api user)."),
    Key("timezone", "IANA time zone name", "UTC", "The PBX's time zone (`Europe/Paris`): Asterisk reports when it "
        "started and last reloaded in local time (`xivo_core_startup_timestamp_seconds`). A wrong one shifts those "
        "times, not the restart and reload alerts, which watch them change."),
    Key("queue_members", "boolean", "false", "With queue_status: per-member series (4 per member and queue)."),
    Key("max_queue_members", "integer", str(DEFAULT_MAX_QUEUE_MEMBERS), "More member-queue entries than this: "
        "queue_status fails with reason `series_limit` instead of exporting a cut list."),
    Key("max_sip_trunks", "integer", str(DEFAULT_MAX_SIP_TRUNKS), "More SIP trunks than this (XiVO: chan_sip "
        "peers with a configured host; Wazo: calld's SIP trunks): the sip collector fails with reason "
        "`series_limit` instead of exporting a cut list. Each trunk is 6 series (`xivo_sip_trunk_status`, "
        "`xivo_sip_trunk_qualify_rtt_seconds`)."),
)
ALL_KEYS = target_keys(KEYS)


def check_xivo(c: Checker, node: Any, path: str, defaults: dict, base_dir: str) -> XivoTarget | None:
    node = c.mapping(node, path, names(ALL_KEYS), required(ALL_KEYS))
    if not node:
        return None
    common = common_target_keys(c, node, path, defaults, base_dir)
    services: dict[str, str] = {}
    raw = node.get("services") or {}
    for key, value in c.mapping(raw, f"{path}.services", SERVICES).items():
        if key not in SERVICES:
            continue
        if not isinstance(value, str):
            c.error(f"{path}.services.{key}", f"expected a URL, got {type_name(value)}")
            continue
        url = check_url(c, value, f"{path}.services.{key}")
        if url:
            services[key] = url
    auth = c.choice(node, "auth", path, AUTH, "token")
    default_collectors = DIGEST_COLLECTORS if auth == "digest" else DEFAULT_COLLECTORS
    collectors = check_collectors(c, node, path, COLLECTORS, default_collectors)
    if auth == "digest":
        for name in collectors:
            if name not in DIGEST_COLLECTORS:
                c.error(f"{path}.collectors", f"collector {name!r} needs auth: token (digest auth only reaches "
                        f"confd: {', '.join(DIGEST_COLLECTORS)})")
    queue_members = c.boolean(node, "queue_members", path, False)
    if queue_members and "queue_status" not in collectors:
        c.error(f"{path}.queue_members", "needs the queue_status collector (add it to collectors)")
    max_queue_members = c.positive_int(node, "max_queue_members", path, DEFAULT_MAX_QUEUE_MEMBERS)
    api_gateway = c.boolean(node, "api_gateway", path, False)
    generation = c.choice(node, "generation", path, GENERATIONS, "auto")
    if auth == "digest" and generation == "wazo":
        # XiVO 16.15 already serves the gateway paths, so digest with api_gateway can be right; on Wazo it
        # was removed (18.14).
        c.error(f"{path}.auth", "digest auth is a legacy XiVO confd mechanism; Wazo (generation: wazo) has "
                "none")
    return XivoTarget(
        **common,
        services=services,
        api_gateway=api_gateway,
        generation=generation,
        auth=auth,
        backend=c.choice(node, "backend", path, BACKENDS, "xivo_service"),
        collectors=collectors,
        timezone=_check_timezone(c, node, path),
        queue_members=queue_members,
        max_sip_trunks=c.positive_int(node, "max_sip_trunks", path, DEFAULT_MAX_SIP_TRUNKS),
        max_queue_members=max_queue_members,
    )


def _check_timezone(c: Checker, node: dict, path: str) -> str:
    name = c.string(node, "timezone", path, "UTC") or "UTC"
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        c.error(f"{path}.timezone", f"unknown time zone {name!r} (an IANA name such as Europe/Paris, or UTC)")
        return "UTC"
    return name

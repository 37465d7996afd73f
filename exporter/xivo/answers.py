"""What a XiVO collector's fetch hands its parser: the raw answers of its requests, typed (fetch.py fills them,
parse.py reads them; they cross to the parse workers pickled). Collectors of a single request hand its body as
bytes, and the devices collector its pages as a list."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObjectAnswers:
    """confd ``?limit=1`` answers: one per collection (None: the PBX has no such collection, 404), and the
    lines counted per protocol (``/lines?protocol=sip``)."""

    collections: dict[str, bytes | None]
    lines_by_protocol: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelAnswers:
    """amid CoreStatus and CoreShowChannels, and the PBX's time zone (its start-up and reload times are in
    local time)."""

    core_status: bytes
    core_show_channels: bytes
    timezone: str = "UTC"


@dataclass(frozen=True)
class AmiSipAnswers:
    """XiVO (chan_sip): amid SIPpeers and SIPshowregistry, and how many trunks may be exported one by one."""

    sip_peers: bytes
    sip_registry: bytes
    generation: str | None = None  # as detected, for xivo_generation; None: not exported
    max_trunks: int = 500


@dataclass(frozen=True)
class CalldSipAnswers:
    """Wazo (PJSIP): calld /trunks and /lines, which summarise registrations cheaply, and amid
    PJSIPShowContacts for the trunks' qualify state (None: the account may not ask, or the PBX cannot)."""

    trunks: bytes
    lines: bytes
    generation: str | None = None
    contacts: bytes | None = None
    max_trunks: int = 500


@dataclass(frozen=True)
class QueueStatusAnswer:
    """amid QueueStatus, with what the target's config says of its members: exported or not, and how many
    at most (over the cap, the table fails: a call centre's agents are its largest label set)."""

    body: bytes
    members: bool = False
    max_members: int = 1000

"""What each XiVO collector requests: I/O only, raw bodies out (parsing is in parse.py).

Only reads, and only cheap ones: confd counts with ``?limit=1`` (``limit=0`` is refused with 400 on
XiVO), devices listed page by page (status cannot be filtered), amid's QueueSummary / CoreStatus /
CoreShowChannels / SIPpeers / SIPshowregistry, and never ctid-ng ``/calls`` (several lookups per channel on
the PBX) nor the device ``autoprov`` / ``synchronize`` endpoints (they change the phone).
"""

from __future__ import annotations

import json

from exporter.httpclient import FetchError
from exporter.xivo.answers import AmiSipAnswers, CalldSipAnswers, ChannelAnswers, ObjectAnswers, QueueStatusAnswer
from exporter.xivo.client import XivoClient

OBJECT_KINDS = (
    "users", "lines", "extensions", "trunks", "voicemails", "groups", "queues", "agents", "contexts", "incalls",
    "outcalls", "ivr", "conferences", "switchboards", "callpickups", "schedules", "pagings", "parkinglots",
    "endpoints/sip", "endpoints/sccp", "endpoints/custom", "callpermissions", "entities", "funckeys/templates",
    "cti_profiles", "moh", "applications", "tenants",
)  # a generation without one answers 404: asked once, then shown in xivo_objects_unsupported
LINE_PROTOCOLS = ("sip", "sccp", "custom")
DEVICE_PAGE = 500
MAX_DEVICE_PAGES = 400  # 200k devices: a bound against a PBX whose `total` keeps moving


async def _list_params(client: XivoClient, **params: str) -> dict[str, str]:
    """On Wazo, confd lists only the tenant of the token (or of a Wazo-Tenant header); ``recurse=true`` adds
    every tenant below it that the token sees, so the counts cover the whole PBX the account may read.
    (wazo-confd: every list endpoint takes ``recurse``, and the tenant is autodetected from the header or the
    token.) XiVO has no tenants: not sent."""
    if client.target.auth != "token":
        return params  # Digest is XiVO's legacy confd auth (refused with generation: wazo): no tenants
    await client.token()  # credentials first: a refused account costs one token request, nothing else
    if await client.generation() == "wazo":
        params["recurse"] = "true"
    return params


async def fetch_objects(client: XivoClient, unsupported: set[str]) -> ObjectAnswers:
    """Each collection's answer; None for one this PBX does not have (404), remembered in ``unsupported``
    so it is asked once per process, not every round."""
    out: dict[str, bytes | None] = {}
    lines: dict[str, bytes] = {}
    one = await _list_params(client, limit="1")
    for kind in OBJECT_KINDS:
        if kind in unsupported:
            out[kind] = None
            continue
        status, body = await client.call("confd", "GET", f"/{kind}", params=one, allow=(404,))
        if status == 404:
            unsupported.add(kind)
            out[kind] = None
        else:
            out[kind] = body
    if "lines" not in unsupported:
        for proto in LINE_PROTOCOLS:
            _, lines[proto] = await client.call("confd", "GET", "/lines", params={**one, "protocol": proto})
    return ObjectAnswers(out, lines)


async def fetch_devices(client: XivoClient) -> list[bytes]:
    pages: list[bytes] = []
    offset = 0
    while len(pages) < MAX_DEVICE_PAGES:
        _, body = await client.call("confd", "GET", "/devices", params=await _list_params(
            client, limit=str(DEVICE_PAGE), offset=str(offset)))
        pages.append(body)
        try:
            doc = json.loads(body)
            total, got = int(doc["total"]), len(doc["items"])
        except (ValueError, KeyError, TypeError):
            break  # the parser reports the malformed page
        offset += got
        if got == 0 or offset >= total:
            break
    else:
        raise FetchError("too_large", f"devices: more than {MAX_DEVICE_PAGES} pages of {DEVICE_PAGE}")
    return pages


async def fetch_agents(client: XivoClient) -> bytes:
    return (await client.call("agentd", "GET", "/agents"))[1]


async def ami(client: XivoClient, action: str) -> bytes:
    return (await client.call("amid", "POST", f"/action/{action}"))[1]


async def fetch_queues(client: XivoClient) -> bytes:
    return await ami(client, "QueueSummary")


async def fetch_queue_status(client: XivoClient, target) -> QueueStatusAnswer:
    """One QueueStatus per round: all queues, their members and callers in one answer (the PBX walks its
    queues once, as for QueueSummary); per-queue requests would cost it a round trip each."""
    return QueueStatusAnswer(await ami(client, "QueueStatus"), target.queue_members, target.max_queue_members)


async def fetch_channels(client: XivoClient, target) -> ChannelAnswers:
    return ChannelAnswers(await ami(client, "CoreStatus"), await ami(client, "CoreShowChannels"), target.timezone)


async def fetch_sip(client: XivoClient, target, unsupported: set[str]) -> AmiSipAnswers | CalldSipAnswers:
    generation = await client.generation()
    if generation == "wazo":  # PJSIP, whose state calld summarises cheaply
        trunks = (await client.call("calld", "GET", "/trunks"))[1]
        lines = (await client.call("calld", "GET", "/lines"))[1]
        return CalldSipAnswers(trunks, lines, "wazo", await _pjsip_contacts(client, unsupported),
                               target.max_sip_trunks)
    return AmiSipAnswers(await ami(client, "SIPpeers"), await ami(client, "SIPshowregistry"), "xivo",
                         target.max_sip_trunks)


async def _pjsip_contacts(client: XivoClient, unsupported: set[str]) -> bytes | None:
    """amid PJSIPShowContacts (the trunks' qualify state), or None when the account has no ACL for it (an
    account made for an earlier version) or the PBX does not know it: asked once, then skipped and said
    (``unsupported``), so that the rest of the sip collector keeps working."""
    if "PJSIPShowContacts" in unsupported:
        return None
    status, body = await client.call("amid", "POST", "/action/PJSIPShowContacts", allow=(401, 403, 404))
    if status != 200:
        unsupported.add("PJSIPShowContacts")
        return None
    return body

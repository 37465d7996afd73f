"""The XiVO / Wazo poller: each collector is one or a few requests to the PBX's services (``fetch.py``), with
one token shared by all of them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from exporter.logs import log
from exporter.polling.poller import BasePoller, logger
from exporter.xivo import fetch as f
from exporter.xivo.client import XivoClient
from exporter.xivo.collectors import COLLECTORS, parse_and_build
from exporter.xivo.status import STATUS


class XivoPoller(BasePoller):
    family = "xivo"
    status_specs = STATUS
    parse = staticmethod(parse_and_build)
    # A 401 that survives re-authentication is an ACL missing for one service: that collector only.
    round_stoppers = BasePoller.round_stoppers | {"auth_failed", "auth_unavailable"}
    auth_reasons = frozenset({"auth_failed", "auth_unavailable"})

    def __init__(self, target, *args, **kwargs):
        super().__init__(target, *args, **kwargs)
        own = self.metrics.of_family[self.family]  # XivoSelfMetrics (family.py)
        self.client = XivoClient(target, on_token=own.token_renewals.labels(target.name).inc)
        self.unsupported: set[str] = set()  # confd collections this PBX answered 404 for
        self._reported: set[str] = set()

    def certificate_expiry(self) -> float | None:
        return self.client.certificate.expiry

    async def close(self) -> None:
        await self.client.close()  # revokes the token

    async def fetch(self, collector: str, deadline: float) -> object:
        request = FETCHES[collector]
        raw = await self.retrying(lambda: request(self), deadline, collector)
        new = sorted(self.unsupported - self._reported)
        if new:
            self._reported.update(new)
            # A confd collection a PBX does not have is normal; an AMI action refused is an ACL to add.
            actions = [n for n in new if n in ACL_OF]
            if actions:
                log(logger, logging.WARNING, "AMI actions refused or unknown; skipped from now on (add the ACL "
                    "to the exporter's account)", target=self.target.name, actions=",".join(actions),
                    acl=",".join(ACL_OF[a] for a in actions))
            if len(actions) < len(new):
                log(logger, logging.INFO, "confd collections not supported by this PBX; skipped from now on",
                    target=self.target.name, kinds=",".join(n for n in new if n not in ACL_OF))
        return raw


# AMI actions a collector does without when refused (an account made for an earlier version), and their ACL.
ACL_OF = {"PJSIPShowContacts": "amid.action.PJSIPShowContacts.create"}

# How each collector is requested. Beside the collectors table (collectors.py), not in it: that one is loaded by
# the parse workers, which import no HTTP stack. The two name the same collectors (checked below).
FETCHES: dict[str, Callable[[XivoPoller], Awaitable[object]]] = {
    "objects": lambda poller: f.fetch_objects(poller.client, poller.unsupported),
    "devices": lambda poller: f.fetch_devices(poller.client),
    "agents": lambda poller: f.fetch_agents(poller.client),
    "queues": lambda poller: f.fetch_queues(poller.client),
    "queue_status": lambda poller: f.fetch_queue_status(poller.client, poller.target),
    "channels": lambda poller: f.fetch_channels(poller.client, poller.target),
    "sip": lambda poller: f.fetch_sip(poller.client, poller.target, poller.unsupported),
}
if list(FETCHES) != list(COLLECTORS):
    raise ImportError(f"xivo: the fetches ({', '.join(FETCHES)}) and the collectors ({', '.join(COLLECTORS)}) "
                      "must name the same collectors, in the same order")

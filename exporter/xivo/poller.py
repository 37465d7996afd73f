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

    async def close(self) -> None:
        await self.client.close()  # revokes the token

    async def fetch(self, collector: str, deadline: float) -> object:
        request = FETCHES[collector]
        raw = await self.retrying(lambda: request(self), deadline, collector)
        new = sorted(self.unsupported - self._reported)
        if new:
            self._reported.update(new)
            log(logger, logging.INFO, "confd collections not supported by this PBX; skipped from now on",
                target=self.target.name, kinds=",".join(new))
        return raw


# How each collector is requested. Beside the collectors table (collectors.py), not in it: that one is loaded by
# the parse workers, which import no HTTP stack. The two name the same collectors (checked below).
FETCHES: dict[str, Callable[[XivoPoller], Awaitable[object]]] = {
    "objects": lambda poller: f.fetch_objects(poller.client, poller.unsupported),
    "devices": lambda poller: f.fetch_devices(poller.client),
    "agents": lambda poller: f.fetch_agents(poller.client),
    "queues": lambda poller: f.fetch_queues(poller.client),
    "queue_status": lambda poller: f.fetch_queue_status(poller.client, poller.target),
    "channels": lambda poller: f.fetch_channels(poller.client),
    "sip": lambda poller: f.fetch_sip(poller.client),
}
if list(FETCHES) != list(COLLECTORS):
    raise ImportError(f"xivo: the fetches ({', '.join(FETCHES)}) and the collectors ({', '.join(COLLECTORS)}) "
                      "must name the same collectors, in the same order")

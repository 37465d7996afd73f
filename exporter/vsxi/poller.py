"""The VSXi poller: one stats table per collector, fetched as configured (XML or JSON), falling back to XML for
good on a table whose JSON conversion fails on the device."""

from __future__ import annotations

import logging

from exporter.httpclient import FetchError
from exporter.logs import log
from exporter.polling.poller import BasePoller, logger
from exporter.vsxi.client import VsxiClient
from exporter.vsxi.collectors import parse_and_build
from exporter.vsxi.status import STATUS


class VsxiPoller(BasePoller):
    family = "vsxi"
    status_specs = STATUS
    parse = staticmethod(parse_and_build)
    # 401: wrong credentials (every table would fail the same way); 402: HA standby refuses every table.
    round_stoppers = BasePoller.round_stoppers | {"http_401", "http_402"}
    auth_reasons = frozenset({"http_401"})
    standby_reasons = frozenset({"http_402"})

    def __init__(self, target, *args, **kwargs):
        # Tables polled as XML for good; set before BasePoller.__init__ renders the first status.
        self.json_fallback: frozenset[str] = frozenset()
        super().__init__(target, *args, **kwargs)
        self.client = VsxiClient(target)

    def collector_note(self, collector: str) -> bool:
        return collector in self.json_fallback

    def certificate_expiry(self) -> float | None:
        return self.client.certificate.expiry

    async def close(self) -> None:
        await self.client.close()

    async def fetch(self, collector: str, deadline: float) -> bytes:
        while True:
            fmt = "xml" if collector in self.json_fallback else self.target.format
            try:
                return await self.retrying(lambda fmt=fmt: self.client.fetch(collector, fmt), deadline, collector)
            except FetchError as exc:
                if exc.reason != "json_jaxb" or fmt != "json":
                    raise
                self.json_fallback |= {collector}
                log(logger, logging.WARNING, "JSON conversion failed on the device; polling this table as XML "
                    "from now on", target=self.target.name, collector=collector)

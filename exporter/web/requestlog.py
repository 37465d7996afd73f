"""Requests the HTTP server cannot parse are counted and summarised, never logged one traceback each.

aiohttp answers a malformed request (a request line or header over 8 KiB, a bad method, broken framing) with a
400 and logs it at error level with a full Python traceback: any client on the network could write ~1.5 kB of
traceback into the exporter's log per request. ``MalformedRequests`` (a filter on aiohttp's server logger)
counts each one (``vsxi_xivo_exporter_malformed_requests_total``) and lets through at most one warning line per
interval, without a traceback, saying how many there were. aiohttp logs some of them at debug level (a bad
method) and others at error level (a line too long): the filter sees them all (the logger is opened to debug)
and lets every other record through only at the level the exporter logs at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp.http_exceptions import BadHttpMessage

SUMMARY_INTERVAL = 60.0  # seconds between two summary lines at most


class MalformedRequests(logging.Filter):
    def __init__(self, count: Callable[[], None], interval: float = SUMMARY_INTERVAL,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.count = count
        self.interval = interval
        self.clock = clock
        self.unreported = 0
        self.last_line: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        shown = logging.getLogger().getEffectiveLevel()  # the exporter's --log.level
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, BadHttpMessage):
            return record.levelno >= shown
        self.count()
        self.unreported += 1
        now = self.clock()
        if logging.WARNING < shown or (self.last_line is not None and now - self.last_line < self.interval):
            return False
        self.last_line = now
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args, record.exc_info, record.exc_text = "malformed requests answered 400", (), None, None
        record.fields = {"count": self.unreported, "last_error": type(exc).__name__,
                         "per": f"{self.interval:g}s at most one line"}
        self.unreported = 0
        return True


def install(count: Callable[[], None]) -> MalformedRequests:
    """Put the filter on aiohttp's server logger (once: a second call replaces the first)."""
    server_logger = logging.getLogger("aiohttp.server")
    for old in [f for f in server_logger.filters if isinstance(f, MalformedRequests)]:
        server_logger.removeFilter(old)
    summary = MalformedRequests(count)
    server_logger.addFilter(summary)
    server_logger.setLevel(logging.DEBUG)  # every malformed request reaches the filter, whatever aiohttp's level
    return summary

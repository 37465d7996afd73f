"""The values of the ``reason`` label (bounded by construction; documented in docs/metrics.md).

``COMMON`` are the reasons of every family, in words that hold for any device: transport, HTTP statuses,
payloads, the exporter's own limits. A family declares the reasons only it has, and notes on what a common one
means for its devices, in its ``Family.reasons`` (exporter/<family>/family.py), checked when the family is
built (``check_family_reasons``). ``http_reason`` is the one mapping from an HTTP status to a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

COMMON: dict[str, str] = {
    "timeout": "connected, but no complete answer within `timeout` (retried only on a device that answered "
               "something else this round)",
    "connect_timeout": "no connection within `connect_timeout`: the TCP or TLS handshake was not answered (a lost "
                       "site, a firewall dropping packets; stops the round, not retried)",
    "dns": "the device's name does not resolve (stops the round, not retried)",
    "connection": "connection refused, or the connection was lost (stops the round)",
    "tls": "the device's certificate is not trusted or the TLS handshake failed (not retried; stops the round)",
    "http_400": "HTTP 400 Bad Request",
    "http_401": "HTTP 401: the credentials were refused (never retried)",
    "http_429": "HTTP 429 Too Many Requests: with Retry-After, no request is sent to the device before then "
                "(at most 10 minutes; see vsxi_xivo_exporter_backoff_until_timestamp_seconds)",
    "http_4xx": "another 4xx status",
    "http_5xx": "a 5xx status (retried)",
    "http_other": "a redirect or other non-200 status (redirects are not followed)",
    "too_large": "the answer exceeds `max_response_bytes` (counted decompressed), or decompresses more than "
                 "200:1 (a decompression bomb)",
    "memory_budget": "the answers being read already hold `global.max_in_flight_bytes`: this one was dropped "
                     "part-way (other devices sending huge answers; retried next round)",
    "series_limit": "the answer would take the target over `max_series`: its series are dropped until it fits",
    "invalid_payload": "malformed XML or JSON (truncated body, not XML nor JSON)",
    "degenerate_payload": "a well-formed answer that holds no stats: `{}`, an empty database, an HTML page, "
                          "the wrong table",
    "parser_error": "a bug in the exporter's parser (logged with a traceback; please report)",
    "round_overrun": "not polled: the round already took the whole interval",
}

_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def http_reason(status: int) -> str:
    """The reason for an HTTP status that is not the answer asked for (a family may say more, e.g. 402)."""
    if status == 400:
        return "http_400"
    if status == 401:
        return "http_401"
    if status == 429:
        return "http_429"
    if 400 <= status < 500:
        return "http_4xx"
    if status >= 500:
        return "http_5xx"
    return "http_other"


def check_family_reasons(family: str, reasons: Mapping[str, str]) -> None:
    """A family's reasons: each a label-safe token with a text; a common one's text is a note on what it means
    for the family's devices. ValueError otherwise (at import: a family that says less is not built)."""
    for reason, text in reasons.items():
        if not _TOKEN.match(reason):
            raise ValueError(f"device family {family!r}: reason {reason!r} is not a short lower-case token")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"device family {family!r}: reason {reason!r} has no text")


def family_reasons(reasons: Mapping[str, str]) -> dict[str, str]:
    """Of a family's declared reasons, those only it has (not notes on common ones)."""
    return {reason: text for reason, text in reasons.items() if reason not in COMMON}

"""HTTP plumbing shared by the device clients: TLS settings, bounded reads, and failures as bounded reasons.

Every failure becomes a ``FetchError`` whose ``reason`` is a token of ``exporter.reasons`` (a metric label)
and whose message names what was asked (table or service path), never a credential or a response body.
"""

from __future__ import annotations

import asyncio
import ssl
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from exporter import budget


class FetchError(Exception):
    """``reason`` is a bounded token (metric label); ``retryable`` says whether another try may help;
    ``retry_after`` (seconds) is the device asking not to be polled again before then."""

    def __init__(self, reason: str, message: str, retryable: bool = False, retry_after: float | None = None):
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; seconds from ``now``, or None when absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now) if when.tzinfo else None


def ssl_context(target) -> ssl.SSLContext | bool:
    """Verification on by default, with the target's CA file; off only when explicitly asked."""
    if not target.url.startswith("https://") and not any(u.startswith("https://") for u in
                                                         getattr(target, "services", {}).values()):
        return True  # aiohttp's default; unused for http://
    if target.tls.insecure_skip_verify:
        return False
    return ssl.create_default_context(cafile=target.tls.ca_file)


async def read_limited(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The body, or FetchError(too_large) as soon as it exceeds ``limit`` (never buffering more). Compressed
    answers are counted as decompressed, so a gzip bomb stops at ``limit`` too. Every byte is drawn from the
    poll's share of the process-wide budget (exporter.engine.budget), if there is one."""
    reservation = budget.current()
    if resp.content_length is not None and resp.content_length > limit:
        raise FetchError("too_large", f"{what}: answer of {resp.content_length} bytes exceeds "
                         f"max_response_bytes ({limit})")
    try:
        if resp.content_length is not None and "Content-Encoding" not in resp.headers:
            if reservation is not None:
                await reservation.take(resp.content_length)
            return await resp.read()  # the length is known and within the limit: one read, no chunk loop
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise FetchError("too_large", f"{what}: answer exceeds max_response_bytes ({limit})")
            if reservation is not None:
                await reservation.take(len(chunk))
            chunks.append(chunk)
        return b"".join(chunks)
    except budget.Exhausted as exc:
        raise FetchError("memory_budget", f"{what}: dropped after {reservation.held} bytes: {exc}") from None


def shown_location(location: str | None) -> str:
    """Where a redirect points, fit for a log line: no credentials, query or fragment (tokens live there)."""
    if not location:
        return "(no Location header)"
    parts = urlsplit(location.strip())
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
    return shown[:200] or "(empty Location header)"


def transport_error(exc: BaseException, what: str, timeout: float) -> FetchError:
    """Classify what aiohttp raised while talking to a device."""
    if isinstance(exc, asyncio.TimeoutError):
        return FetchError("timeout", f"{what}: no complete answer within {timeout:g}s", retryable=True)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return FetchError("tls", f"{what}: TLS certificate not trusted: {exc.certificate_error} (set "
                          f"tls.ca_file to the device's CA, or tls.insecure_skip_verify)")
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError("tls", f"{what}: TLS handshake failed: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError("connection", f"{what}: cannot connect: {exc.os_error or exc}", retryable=True)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError):
        return FetchError("connection", f"{what}: connection lost: {type(exc).__name__}", retryable=True)
    return FetchError("connection", f"{what}: {type(exc).__name__}: {exc}", retryable=True)


TRANSPORT_ERRORS = (asyncio.TimeoutError, aiohttp.ClientError, ConnectionResetError)

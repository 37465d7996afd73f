"""HTTP plumbing shared by the device clients: TLS settings, bounded reads, and failures as bounded reasons.

Every failure becomes a ``FetchError`` whose ``reason`` is a token of ``exporter.reasons`` (a metric label)
and whose message names what was asked (table or service path), never a credential or a response body.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from exporter import budget, slots
from exporter.certificates import not_after

# Reasons that mean the device gave no answer at all: nothing to read, so nothing to retry on a device that
# has not answered anything else this round (exporter.polling.poller).
UNANSWERED = frozenset({"timeout", "connect_timeout", "connection", "dns"})


class FetchError(Exception):
    """``reason`` is a bounded token (metric label); ``retryable`` says whether another try may help;
    ``retry_after`` (seconds) is the device asking not to be polled again before then; ``no_answer``: the
    device (or the service asked) gave no answer at all (by default, the reasons of UNANSWERED)."""

    def __init__(self, reason: str, message: str, retryable: bool = False, retry_after: float | None = None,
                 no_answer: bool | None = None):
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.no_answer = reason in UNANSWERED if no_answer is None else no_answer
        super().__init__(message)


class PeerCertificate:
    """The certificate a device's TLS connections present: its expiry, read once per certificate seen, whether
    or not it was verified (exporter.certificates)."""

    def __init__(self) -> None:
        self.expiry: float | None = None
        self._der: bytes | None = None

    def connected(self, transport: asyncio.BaseTransport) -> None:
        """Never fails the connection: a certificate that cannot be read leaves the expiry unknown."""
        try:
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None  # None: http://
        except (AttributeError, ValueError, ssl.SSLError):
            der = None
        if der and der != self._der:
            self._der = der
            self.expiry = not_after(der)


class CertificateConnector(aiohttp.TCPConnector):
    """A TCPConnector that shows each new connection's transport to ``certificate`` (``PeerCertificate``).
    At connection time, because by the time a small answer is read its connection is back in the pool and the
    response no longer holds it. The hook is aiohttp's own step that opens a connection (``TCPConnector.
    _wrap_create_connection``, TLS included); tests/test_certificates.py fails if it stops being called."""

    def __init__(self, *args, certificate: PeerCertificate, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.certificate = certificate

    async def _wrap_create_connection(self, *args, **kwargs):
        transport, protocol = await super()._wrap_create_connection(*args, **kwargs)
        self.certificate.connected(transport)
        return transport, protocol


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
    if not any(u.startswith("https://") for u in target.urls()):
        return True  # aiohttp's default; unused for http://
    if target.tls.insecure_skip_verify:
        return False
    return ssl.create_default_context(cafile=target.tls.ca_file)


MAX_COMPRESSION_RATIO = 200  # real answers compress 10-30:1; a gzip bomb of blanks ~1000:1
RATIO_CHECKED_ABOVE = 1 << 18  # small answers may be anything (a few bytes of headers dominate)
ACCEPT_ENCODING = "gzip, deflate"  # what BodyReader decodes; nothing else is asked for


class BodyReader:
    """The body of one answer, chunk by chunk, decompressed here (aiohttp's own decompression is off, so
    both sizes are known): never more than ``limit`` bytes once decompressed, never a compression ratio
    over MAX_COMPRESSION_RATIO past RATIO_CHECKED_ABOVE bytes, and every byte drawn from the poll's share of the
    process-wide budget (exporter.budget), if there is one."""

    def __init__(self, resp: aiohttp.ClientResponse, limit: int, what: str):
        self.resp, self.limit, self.what = resp, limit, what
        self.reservation = budget.current()
        self.size = 0  # decompressed bytes read so far
        self.wire = 0  # bytes off the socket
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            self._inflate = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
            self._raw_deflate = encoding == "deflate"  # some servers send deflate without the zlib header
        else:
            raise FetchError("invalid_payload", f"{what}: answer in Content-Encoding {encoding[:40]!r}, which "
                             f"was not asked for ({ACCEPT_ENCODING})")
        if resp.content_length is not None and self._inflate is None and resp.content_length > limit:
            raise FetchError("too_large", f"{what}: answer of {resp.content_length} bytes exceeds "
                             f"max_response_bytes ({limit})")

    @property
    def compressed(self) -> bool:
        return self._inflate is not None

    async def read(self, size: int = 1 << 16) -> bytes:
        """The next piece of the body (at most ``size`` bytes once decompressed), b"" at its end."""
        while True:
            if self._inflate is not None and self._inflate.unconsumed_tail:
                data = self._inflate.unconsumed_tail
            else:
                data = await self._network(size)
                self.wire += len(data)
                if not data:
                    return await self._counted(self._inflate.flush() if self._inflate is not None else b"")
            if self._inflate is None:
                return await self._counted(data)
            out = self._decompress(data, size)
            if out:
                return await self._counted(out)

    async def _network(self, size: int) -> bytes:
        """What the connection has brought (at most ``size`` bytes), b"" at the end. A read that has to wait for
        the device gives the poll's slot back until bytes come (exporter.slots): a body trickling a byte a
        second holds a slot for the moments its bytes are handled, not for the whole timeout."""
        content = self.resp.content
        data = content.read_nowait(size)
        if data or content.at_eof():
            return data
        slots.release()
        data = await content.read(size)
        await slots.take()
        return data

    def _decompress(self, data: bytes, size: int) -> bytes:
        try:
            return self._inflate.decompress(data, size)
        except zlib.error as exc:
            if self._raw_deflate and not self.size:
                self._raw_deflate = False
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._decompress(data, size)
            raise FetchError("invalid_payload", f"{self.what}: compressed body is corrupt: {exc}") from None

    async def _counted(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError("too_large", f"{self.what}: answer exceeds max_response_bytes ({self.limit})")
        if self._inflate is not None and self.size > RATIO_CHECKED_ABOVE:
            consumed = self.wire - len(self._inflate.unconsumed_tail)  # input that gave the output so far
            if self.size > MAX_COMPRESSION_RATIO * max(consumed, 1):
                raise FetchError("too_large", f"{self.what}: compressed more than {MAX_COMPRESSION_RATIO}:1 "
                                 f"({consumed} bytes gave {self.size}; a decompression bomb?)")
        await self._take(len(data))
        return data

    async def _take(self, n: int) -> None:
        if self.reservation is None or not n:
            return
        try:
            await self.reservation.take(n)
        except budget.Exhausted as exc:
            raise FetchError("memory_budget", f"{self.what}: dropped after {self.reservation.held} bytes: "
                             f"{exc}") from None

    async def read_all(self) -> bytes:
        if self.resp.content_length is not None and self._inflate is None:
            # The length is known and within the limit: counted at once, read as it comes (usually one piece:
            # a join of one piece is that piece, not a copy).
            await self._take(self.resp.content_length)
            chunks = []
            while data := await self._network(-1):
                chunks.append(data)
                self.size += len(data)
                if self.size > self.resp.content_length:  # more than announced: aiohttp stops it first
                    break
            return b"".join(chunks)
        chunks = []
        while chunk := await self.read():
            chunks.append(chunk)
        return b"".join(chunks)


async def read_limited(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, or FetchError as soon as it is too large (never buffering more): see BodyReader. The
    poll's slot is held while it is read (exporter.slots), and given back with the body."""
    await slots.take()
    try:
        return await BodyReader(resp, limit, what).read_all()
    finally:
        slots.release()


class StreamedBody:
    """An answer larger than the parse workers take whole: its first chunks read (``chunks``), the rest
    still on the socket, read by ``next_chunk()`` as the parser asks for it. ``close()`` ends the response.
    The chunks are kept as read (no joined copy): an answer is handed over a chunk at a time."""

    def __init__(self, chunks: list[bytes], reader: BodyReader, timeout: float):
        self.chunks = chunks
        self.reader = reader
        self.timeout = timeout

    async def next_chunk(self) -> bytes:
        """The next chunk (those already read first), b"" at the end; FetchError for anything that goes
        wrong on the way."""
        if self.chunks:
            return self.chunks.pop(0)
        try:
            return await self.reader.read()
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.reader.what, self.timeout) from None

    async def head(self, size: int) -> bytes:
        """At least ``size`` bytes from the start (fewer only if the answer is shorter), taken off the chunks:
        what a parser needs to see the shape of the document before reading the rest."""
        pieces, n = [], 0
        while n < size and (chunk := await self.next_chunk()):
            pieces.append(chunk)
            n += len(chunk)
        return b"".join(pieces)

    @property
    def size(self) -> int:
        return self.reader.size

    def close(self) -> None:
        self.reader.resp.close()


async def read_body(resp: aiohttp.ClientResponse, limit: int, what: str, stream_above: int,
                    timeout: float) -> bytes | StreamedBody:
    """The body whole when it ends within ``stream_above`` bytes, else a StreamedBody holding them. The poll's
    slot (exporter.slots) is taken now that the answer has started; the poll gives it back when it is done
    with the answer (a whole one may be handed to a parse worker at once: those hand-offs stay bounded too)."""
    await slots.take()
    try:
        reader = BodyReader(resp, limit, what)
        known = resp.content_length is not None and not reader.compressed
        if known and resp.content_length <= stream_above:
            body = await reader.read_all()
        else:
            head, size = [], 0
            while size < stream_above:
                chunk = await reader.read()
                if not chunk:
                    break
                head.append(chunk)
                size += len(chunk)
            else:
                return StreamedBody(head, reader, timeout)
            body = b"".join(head)
    except BaseException:
        slots.release()
        raise
    return body  # the slot is the poll's until it is done with the answer (see exporter.slots)


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


def client_timeout(target) -> aiohttp.ClientTimeout:
    """The whole request within ``timeout``; getting a connection (name, TCP, TLS handshake) within
    ``connect_timeout`` of it: a lost site is usually a handshake nobody answers, told apart early."""
    return aiohttp.ClientTimeout(total=target.timeout, connect=target.connect_timeout)


def transport_error(exc: BaseException, what: str, timeout: float, connect_timeout: float | None = None) \
        -> FetchError:
    """Classify what aiohttp raised while talking to a device. Failures before any answer (no connection, no
    answer in time) are ``retryable`` for the poller to decide: it retries them only on a device that has
    answered something this round."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError("connect_timeout", f"{what}: no connection within "
                          f"{connect_timeout if connect_timeout is not None else timeout:g}s (TCP or TLS handshake "
                          "not answered)", retryable=True)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError("dns", f"{what}: cannot resolve the device's name: {exc.os_error or exc}",
                          retryable=True)
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

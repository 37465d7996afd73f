"""HTTP I/O with one VSXi: fetch one stats table, classify every failure into a bounded reason.

One ``aiohttp.ClientSession`` per target with a one-connection pool: the device answers 400 to concurrent
requests, so the pool itself makes them impossible. Credentials go in the Authorization header, never in the
URL; error messages carry the table and status, never the body of a 2xx or the password.
"""

from __future__ import annotations

import base64
import time

import aiohttp
from yarl import URL

from exporter import slots
from exporter.bodystream import STREAM_ABOVE_BYTES
from exporter.httpclient import (
    ACCEPT_ENCODING,
    TRANSPORT_ERRORS,
    CertificateConnector,
    FetchError,
    PeerCertificate,
    StreamedBody,
    client_timeout,
    parse_retry_after,
    read_body,
    shown_location,
    ssl_context,
    transport_error,
)
from exporter.reasons import http_reason
from exporter.resolver import Resolver
from exporter.vsxi.config import VsxiTarget

STATS_PATH = "/SSConfig/webresources/stats/"
JAXB_MARKER = b"xml2json"


def basic_auth(target: VsxiTarget) -> str:
    token = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
    return f"Basic {token}"


class VsxiClient:
    def __init__(self, target: VsxiTarget, stream_above: int = STREAM_ABOVE_BYTES):
        self.target = target
        self.stream_above = stream_above  # larger answers are handed over as they arrive (StreamedBody)
        self._session: aiohttp.ClientSession | None = None
        self._timeout = client_timeout(target)
        self._urls: dict[tuple[str, str], URL] = {}  # parsed once: yarl's parsing is a fair share of a GET
        self.certificate = PeerCertificate()

    def _url(self, table: str, fmt: str) -> URL:
        url = self._urls.get((table, fmt))
        if url is None:
            url = URL(self.target.url + STATS_PATH + table)
            url = self._urls[(table, fmt)] = url.with_query(format="json") if fmt == "json" else url
        return url

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=CertificateConnector(limit=1, ssl=ssl_context(self.target), resolver=Resolver(),
                                               certificate=self.certificate),
                headers={"User-Agent": "vsxi-xivo-exporter", "Authorization": basic_auth(self.target),
                         "Accept-Encoding": ACCEPT_ENCODING},
                auto_decompress=False,  # BodyReader decompresses, with a size and a ratio cap
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, table: str, fmt: str) -> bytes | StreamedBody:
        """The answer whole, or, past ``stream_above`` bytes, a StreamedBody that owns the response (the
        caller closes it)."""
        resp = None
        await slots.begin()  # not counted in the device's timeout: a wait for the exporter, not for the device
        try:
            resp = await self._ensure_session().get(self._url(table, fmt), timeout=self._timeout,
                                                    allow_redirects=False)
            if resp.status != 200:
                # The start of an error page, to quote; not when compressed (it would be noise).
                head = b"" if "Content-Encoding" in resp.headers else await resp.content.read(512)
                error = _status_error(resp.status, table, head, resp.headers.get("Location"))
                if resp.status in (429, 503):
                    error.retry_after = parse_retry_after(resp.headers.get("Retry-After"), time.time())
                raise error
            body = await read_body(resp, self.target.max_response_bytes, table, self.stream_above,
                                   self.target.timeout)
        except TRANSPORT_ERRORS as exc:
            if resp is not None:
                resp.close()
            raise transport_error(exc, table, self.target.timeout, self._timeout.connect) from None
        except BaseException:
            if resp is not None:
                resp.close()  # mid-body: the connection cannot be reused
            raise
        if isinstance(body, bytes):
            resp.release()
        return body


def _status_error(status: int, table: str, head: bytes, location: str | None = None) -> FetchError:
    # The device's error texts are short ("fail - ...", "Fail - User Not Authorized: ..."): quote the start.
    text = head.decode("utf-8", "replace").strip().splitlines()[0][:120] if head.strip() else ""
    if 300 <= status < 400:
        return FetchError("http_other", f"{table}: HTTP {status} redirect to {shown_location(location)}; "
                          "redirects are not followed (set url to where the device answers)")
    detail = f"{table}: HTTP {status}" + (f": {text}" if text else "")
    if status == 402:
        return FetchError("http_402", detail + " (HA standby node)")
    if status == 500 and JAXB_MARKER in head:
        return FetchError("json_jaxb", detail)
    reason = http_reason(status)
    hint = {"http_401": " (check username and password; not retried)", "http_429": " (too many requests)"}
    # 400 is also the SBC's answer to a request sent while another is in flight: another try may help.
    return FetchError(reason, detail + hint.get(reason, ""), retryable=reason in ("http_400", "http_5xx"))

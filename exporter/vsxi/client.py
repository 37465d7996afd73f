"""HTTP I/O with one VSXi: fetch one stats table, classify every failure into a bounded reason.

One ``aiohttp.ClientSession`` per target with a one-connection pool: the device answers 400 to concurrent
requests, so the pool itself makes them impossible. Credentials go in the Authorization header, never in the
URL; error messages carry the table and status, never the body of a 2xx or the password.
"""

from __future__ import annotations

import base64
import ssl

import aiohttp

from exporter.config import VsxiTarget

STATS_PATH = "/SSConfig/webresources/stats/"
JAXB_MARKER = b"xml2json"


class FetchError(Exception):
    """``reason`` is a bounded token (metric label); ``retryable`` says whether another try may help."""

    def __init__(self, reason: str, message: str, retryable: bool = False):
        self.reason = reason
        self.retryable = retryable
        super().__init__(message)


def ssl_context(target: VsxiTarget) -> ssl.SSLContext | bool:
    if not target.url.startswith("https://"):
        return True  # aiohttp's default; unused for http://
    if target.tls.insecure_skip_verify:
        return False
    return ssl.create_default_context(cafile=target.tls.ca_file)


def basic_auth(target: VsxiTarget) -> str:
    token = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
    return f"Basic {token}"


class VsxiClient:
    def __init__(self, target: VsxiTarget):
        self.target = target
        self._session: aiohttp.ClientSession | None = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1, ssl=ssl_context(self.target)),
                headers={"User-Agent": "vsxi-xivo-exporter", "Authorization": basic_auth(self.target)},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, table: str, fmt: str) -> bytes:
        url = self.target.url + STATS_PATH + table
        params = {"format": "json"} if fmt == "json" else None
        timeout = aiohttp.ClientTimeout(total=self.target.timeout)
        limit = self.target.max_response_bytes
        try:
            async with self._ensure_session().get(url, params=params, timeout=timeout,
                                                  allow_redirects=False) as resp:
                if resp.status != 200:
                    head = await resp.content.read(512)
                    raise _status_error(resp.status, table, head)
                if resp.content_length is not None and resp.content_length > limit:
                    raise FetchError("too_large", f"{table}: answer of {resp.content_length} bytes exceeds "
                                     f"max_response_bytes ({limit})")
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > limit:
                        raise FetchError("too_large", f"{table}: answer exceeds max_response_bytes ({limit})")
                    chunks.append(chunk)
                return b"".join(chunks)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError("timeout", f"{table}: no complete answer within {self.target.timeout:g}s",
                             retryable=True) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FetchError("tls", f"{table}: TLS certificate not trusted: {exc.certificate_error} (set "
                             f"tls.ca_file to the device's CA, or tls.insecure_skip_verify)") from None
        except aiohttp.ClientSSLError as exc:
            raise FetchError("tls", f"{table}: TLS handshake failed: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError("connection", f"{table}: cannot connect: {exc.os_error or exc}",
                             retryable=True) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, ConnectionResetError) as exc:
            raise FetchError("connection", f"{table}: connection lost: {type(exc).__name__}",
                             retryable=True) from None
        except aiohttp.ClientError as exc:
            raise FetchError("connection", f"{table}: {type(exc).__name__}: {exc}", retryable=True) from None


def _status_error(status: int, table: str, head: bytes) -> FetchError:
    # The device's error texts are short ("fail - ...", "Fail - User Not Authorized: ..."): quote the start.
    text = head.decode("utf-8", "replace").strip().splitlines()[0][:120] if head.strip() else ""
    detail = f"{table}: HTTP {status}" + (f": {text}" if text else "")
    if status == 401:
        return FetchError("http_401", detail + " (check username and password; not retried)")
    if status == 402:
        return FetchError("http_402", detail + " (HA standby node)")
    if status == 500 and JAXB_MARKER in head:
        return FetchError("json_jaxb", detail)
    if status == 400:
        return FetchError("http_400", detail, retryable=True)
    if status >= 500:
        return FetchError("http_5xx", detail, retryable=True)
    return FetchError("http_4xx" if status >= 400 else "http_other", detail)

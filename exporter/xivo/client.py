"""HTTP I/O with one XiVO/Wazo PBX: service URLs, the xivo-auth token lifecycle, digest for legacy confd.

One token per target, shared by its collectors: issued with ``POST /0.1/token`` (Basic, JSON body with
backend and expiration), renewed at 80% of its lifetime measured on the local clock (``expires_at`` is local
time without a zone, useless across time zones), re-issued once when any service answers 401, revoked at
shutdown. Response bodies are never logged: XiVO 16 user items carry SIP and CTI passwords.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from exporter import slots
from exporter.httpclient import (
    ACCEPT_ENCODING,
    TRANSPORT_ERRORS,
    CertificateConnector,
    FetchError,
    PeerCertificate,
    client_timeout,
    parse_retry_after,
    read_limited,
    ssl_context,
    transport_error,
)
from exporter.reasons import http_reason
from exporter.resolver import Resolver
from exporter.xivo.config import XivoTarget

# service -> (XiVO port, API version). calld is ctid-ng on XiVO (same port, same /1.0 paths we use).
SERVICES = {"auth": (9497, "0.1"), "confd": (9486, "1.1"), "agentd": (9493, "1.0"), "amid": (9491, "1.0"),
            "calld": (9500, "1.0")}
TOKEN_EXPIRATION = 3600
RENEW_AT = 0.8
REVOKE_TIMEOUT = 1.0  # seconds, at shutdown or when a target is removed


def service_urls(target: XivoTarget) -> dict[str, str]:
    parts = urlsplit(target.url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    urls = {}
    for service, (port, version) in SERVICES.items():
        if target.api_gateway:
            urls[service] = f"{target.url}/api/{service}/{version}"
        else:
            urls[service] = f"{parts.scheme}://{host}:{port}/{version}"
    urls.update(target.services)
    return urls


def _status_error(status: int, service: str, path: str, head: bytes, retry_after: float | None = None) -> FetchError:
    where = f"{service} {path}: HTTP {status}"
    try:  # what the service says of it: {"reason": ["..."]}
        said = json.loads(head).get("reason") if head.lstrip().startswith(b"{") else None
    except ValueError:
        said = None
    detail = f"{where}: {said[0][:120]}" if isinstance(said, list) and said else where
    if status == 503 and b"uthentication" in head:
        return FetchError("auth_unavailable", detail + " (xivo-auth unreachable: the PBX itself may be fine)")
    reason = http_reason(status)
    if reason == "http_401":
        return FetchError(reason, detail + " (refused after re-authenticating: check the account's ACLs, or the "
                          "digest login and password)")
    if reason == "http_429" or (status == 503 and retry_after is not None):
        # The PBX (or nginx's limit_req in front of it) asks for a pause: honoured by the poller, bounded.
        return FetchError(reason, detail + (" (too many requests)" if status == 429 else ""), retry_after=retry_after)
    return FetchError(reason, detail, retryable=reason == "http_5xx")


class XivoClient:
    def __init__(self, target: XivoTarget, on_token: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic):
        self.target = target
        self.urls = service_urls(target)
        self.on_token = on_token  # called on every issued token (self-metric)
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._generation: str | None = None  # detected once (generation: auto)
        self._renew_at = 0.0
        self.certificate = PeerCertificate()  # the last service's: they are one host, or one gateway

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            middlewares = ()
            if self.target.auth == "digest":
                # Preemptive: once challenged, every request carries its answer (one round trip, not two).
                middlewares = (aiohttp.DigestAuthMiddleware(self.target.username, self.target.password,
                                                            preemptive=True),)
            self._session = aiohttp.ClientSession(
                connector=CertificateConnector(limit=1, ssl=ssl_context(self.target), resolver=Resolver(),
                                               certificate=self.certificate),
                # The legacy digest nonce lives in a session cookie; PBXs are often addressed by IP.
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                headers={"User-Agent": "vsxi-xivo-exporter", "Accept-Encoding": ACCEPT_ENCODING},
                auto_decompress=False,  # BodyReader decompresses, with a size and a ratio cap
                middlewares=middlewares,
            )
        return self._session

    async def _send(self, method: str, url: str, **kwargs) -> tuple[int, bytes, float | None]:
        """Status, body, and the Retry-After of a 429 or 503 (seconds, None when absent)."""
        timeout = client_timeout(self.target)
        what = urlsplit(url).path
        await slots.begin()  # not counted in the service's timeout: a wait for the exporter, not for the PBX
        try:
            async with self._ensure_session().request(method, url, timeout=timeout, allow_redirects=False,
                                                      **kwargs) as resp:
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), time.time()) \
                    if resp.status in (429, 503) else None
                return resp.status, await read_limited(resp, self.target.max_response_bytes, what), retry_after
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, what, self.target.timeout, timeout.connect) from None

    # --- token ----------------------------------------------------------------------------------------
    async def token(self) -> str:
        if self._token is None or self.clock() >= self._renew_at:
            await self._issue()
        return self._token

    async def _issue(self) -> None:
        basic = base64.b64encode(f"{self.target.username}:{self.target.password}".encode()).decode()
        issued_at = self.clock()
        try:
            status, body, retry_after = await self._send(
                "POST", f"{self.urls['auth']}/token",
                headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
                data=json.dumps({"backend": self.target.backend, "expiration": TOKEN_EXPIRATION}))
        except FetchError as exc:
            if exc.no_answer:
                raise FetchError("auth_unavailable", f"xivo-auth unreachable: {exc}", no_answer=True) from None
            raise
        if status == 401:
            raise FetchError("auth_failed", f"xivo-auth refused the credentials of {self.target.username!r} "
                             f"with backend {self.target.backend} (check username, password and backend)")
        if status != 200:
            reason = "http_429" if status == 429 else "auth_unavailable" if status >= 500 else "auth_failed"
            raise FetchError(reason, f"xivo-auth: HTTP {status} on POST /token", retry_after=retry_after)
        try:
            token = json.loads(body)["data"]["token"]
        except (ValueError, KeyError, TypeError):
            token = None
        # Checked by an if, not an assert: `python -O` strips asserts, and this is a device's answer.
        if not isinstance(token, str) or not token:
            raise FetchError("invalid_payload", "xivo-auth: answer without data.token")
        old = self._token
        self._token, self._renew_at = token, issued_at + RENEW_AT * TOKEN_EXPIRATION
        self.on_token()
        if old:
            await self._revoke(old)  # tidy: the replaced token would otherwise live until it expires

    async def _revoke(self, token: str) -> None:
        try:
            await self._send("DELETE", f"{self.urls['auth']}/token/{token}", headers={"X-Auth-Token": token})
        except FetchError:
            pass  # best effort: it expires anyway

    async def close(self) -> None:
        if self._token:
            # Revoking is a courtesy: a hung xivo-auth must not hold the shutdown past a container
            # runtime's grace period (the token expires by itself).
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._revoke(self._token), REVOKE_TIMEOUT)
            self._token = None
        if self._session is not None:
            await self._session.close()

    # --- what the PBX is ------------------------------------------------------------------------------
    async def generation(self) -> str:
        """``xivo`` (chan_sip, AMI registrations) or ``wazo`` (calld trunks and lines): from the config, or
        asked of the PBX once (cached): calld/ctid-ng serves its own API spec without auth, and only Wazo's
        has ``/trunks``. ``api_gateway`` says nothing: XiVO 16.15 already serves the gateway paths. Until
        the PBX answers, api_gateway is the guess (not cached)."""
        if self.target.generation != "auto":
            return self.target.generation
        if self._generation is None:
            url = f"{self.urls['calld']}/api/api.yml"
            try:
                status, body, _ = await self._send("GET", url)
            except FetchError:
                status, body = 0, b""
            if status == 200:
                self._generation = "wazo" if re.search(rb"^\s+/trunks:", body, re.MULTILINE) else "xivo"
            elif status == 404:
                self._generation = "xivo"  # an older ctid-ng without a spec: no calld trunks either
            else:
                return "wazo" if self.target.api_gateway else "xivo"
        return self._generation

    # --- service calls --------------------------------------------------------------------------------
    async def call(self, service: str, method: str, path: str, *, params: dict | None = None,
                   json_body: object = None, allow: tuple[int, ...] = ()) -> tuple[int, bytes]:
        """One call; a 401 re-issues the token once and retries. Statuses in ``allow`` are returned."""
        url = self.urls[service] + path
        kwargs: dict = {"params": params}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        for attempt in (1, 2):
            if self.target.auth == "token":
                kwargs.setdefault("headers", {})["X-Auth-Token"] = await self.token()
            status, body, retry_after = await self._send(method, url, **kwargs)
            if status == 401 and attempt == 1:
                # Token: expired or revoked under us. Digest: the nonce lives in a session cookie that the
                # middleware's own retry cannot carry; a new request takes it from the cookie jar.
                self._token = None
                continue
            if status == 200 or status in allow:
                return status, body
            raise _status_error(status, service, path, body[:512], retry_after)
        raise AssertionError("unreachable")

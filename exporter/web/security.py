"""The web config applied to every connection and request, as exporter-toolkit does, in its order:

0. client certificate SANs (``client_allowed_sans``): Go refuses a certificate with none of them inside the
   handshake; Python's ssl has no hook there, so a connection whose verified certificate matches none is closed
   as soon as its handshake ends, before anything is read or answered (``admits``, called by the connection
   handler, exporter.web.slowclients), counted and logged once a minute at most. A connection opened before
   the list changed is checked again on each request (403, and closed), after the rate limit;
1. rate limit (``rate_limit``): a global token bucket built once at start; over it, 429 and nothing else;
2. the configured security headers, on every answer from here on (401s included);
3. basic auth (``basic_auth_users``): 401 with ``WWW-Authenticate: Basic``. Unknown users are checked against a
   fixed hash so the time taken reveals nothing; bcrypt runs one comparison at a time in its own thread, never
   on the event loop, and its results are cached (100 entries, ~10% evicted at random when full) under
   hex(user):hex(hash):hex(password), so a changed hash or password never reuses a verdict.

Every path is behind it, ``/-/healthy``, ``/-/ready`` and ``/-/reload`` included. The file is re-read whenever
it changed (a stat per request): a broken edit answers 500 and logs once, the next good edit applies at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import bcrypt
from aiohttp import web

from exporter import logs
from exporter.web.webconfig import WebConfig, WebConfigError, read_web_config

logger = logging.getLogger("exporter.web")

# bcrypt of "fakepassword" at cost 10, as the toolkit compares unknown users against (it matches that
# password, harmlessly: an unknown user is refused whatever the outcome).
FAKE_HASH = b"$2b$10$g9dRG9dkYbYdsgg7RgUgR.AhryQvtnF/o1QGPfn8muDalKgKAojJC"
CACHE_SIZE = 100
# Request key: the security headers its answer carries (a typed key where aiohttp has them, 3.13 on).
HEADERS = web.RequestKey("web_config_headers", dict) if hasattr(web, "RequestKey") else "web_config_headers"
REFUSAL_LOG_INTERVAL = 60.0  # seconds: a refused client certificate is logged once a minute at most
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; Go truncates, pyca/bcrypt raises: truncated here as in Go


class TokenBucket:
    """golang.org/x/time/rate's limiter with rate 1/interval and ``burst``: starts full."""

    def __init__(self, interval: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.interval, self.burst, self.clock = interval, burst, clock
        self.tokens = float(burst)
        self.updated = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) / self.interval)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class VerdictCache:
    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.verdicts: dict[str, bool] = {}

    @staticmethod
    def key(user: bytes, hashed: bytes, password: bytes) -> str:
        return f"{user.hex()}:{hashed.hex()}:{password.hex()}"

    def get(self, key: str) -> bool | None:
        return self.verdicts.get(key)

    def put(self, key: str, verdict: bool) -> None:
        if len(self.verdicts) >= self.size:
            for old in random.sample(list(self.verdicts), max(1, self.size // 10)):
                del self.verdicts[old]
        self.verdicts[key] = verdict


def parse_basic(header: str) -> tuple[bytes, bytes] | None:
    """``Basic <base64(user:password)>`` -> (user, password) as bytes; None when it is not that. The password
    may contain colons: split at the first."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


def _normalise_san(value: str) -> str:
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return value


def peer_sans(peercert: dict | None) -> set[str]:
    """DNS, e-mail, IP and URI SANs of a verified peer certificate (ssl's getpeercert() form)."""
    names = set()
    for kind, value in (peercert or {}).get("subjectAltName", ()):
        if kind in ("DNS", "email", "URI"):
            names.add(value)
        elif kind == "IP Address":
            names.add(_normalise_san(value.strip()))
    return names


def sans_allowed(config: WebConfig, peercert: dict | None) -> bool:
    """Whether a connection's verified client certificate passes ``client_allowed_sans`` (no list: it does)."""
    if config.tls is None or not config.tls.client_allowed_sans:
        return True
    return bool(peer_sans(peercert) & {_normalise_san(s) for s in config.tls.client_allowed_sans})


class WebSecurity:
    """Holds the web config (re-read when its file changes) and checks connections and requests against it."""

    def __init__(self, path: str, config: WebConfig):
        self.path = path
        self.config = config
        self._stat = self._file_stat()
        self._error: str | None = None
        self.bucket = TokenBucket(config.rate_interval, config.rate_burst) if config.rate_interval > 0 else None
        self.cache = VerdictCache()
        self._bcrypt = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")  # one at a time
        self._refusal_logged = -REFUSAL_LOG_INTERVAL  # when a refused client certificate was last logged

    def _file_stat(self):
        try:
            st = os.stat(self.path)
            return st.st_mtime_ns, st.st_size, st.st_ino
        except OSError:
            return None

    def current(self) -> WebConfig:
        """The config as the file is now; raises WebConfigError (logged once per distinct error)."""
        stat = self._file_stat()
        if stat == self._stat and self._error is None:
            return self.config
        try:
            config = read_web_config(self.path)
        except WebConfigError as exc:
            message = "; ".join(exc.problems)
            if message != self._error:
                logs.log(logger, logging.ERROR, "web config unreadable; requests answered 500 until fixed",
                         error=message)
                self._error = message
            self._stat = stat
            raise
        if self._error is not None:
            logs.log(logger, logging.INFO, "web config readable again", file=self.path)
        self.config, self._stat, self._error = config, stat, None
        return config

    def _compare(self, user: bytes, password: bytes, hashed: bytes) -> bool:
        return bcrypt.checkpw(password[:BCRYPT_MAX_BYTES], hashed)

    async def authorised(self, config: WebConfig, header: str | None) -> bool:
        creds = parse_basic(header) if header else None
        if creds is None:
            return False
        user, password = creds
        known = config.users.get(user)
        hashed = known if known is not None else FAKE_HASH
        key = VerdictCache.key(user, hashed, password)
        verdict = self.cache.get(key)
        if verdict is None:
            verdict = await asyncio.get_running_loop().run_in_executor(
                self._bcrypt, self._compare, user, password, hashed)
            self.cache.put(key, verdict)
        # Both must hold; compare_digest keeps the user test constant-time as well.
        return verdict and known is not None and hmac.compare_digest(hashed, known)

    def admits(self, transport: asyncio.BaseTransport) -> bool:
        """Whether a connection whose TLS handshake just ended may be read: False when its client certificate
        has none of ``client_allowed_sans`` (logged once a minute at most, with the SANs it has). While the file
        is broken the connection is let in and its requests are answered 500, as every request then."""
        try:
            config = self.current()
        except WebConfigError:
            return True
        peercert = transport.get_extra_info("peercert")
        if sans_allowed(config, peercert):
            return True
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSAL_LOG_INTERVAL:
            self._refusal_logged = now
            peer = transport.get_extra_info("peername")
            logs.log(logger, logging.WARNING, "client certificate refused: none of its SANs is in the web "
                     "config's client_allowed_sans; connection closed (logged once a minute at most, all counted "
                     "in vsxi_xivo_exporter_http_client_certificates_refused_total)",
                     peer=peer[0] if peer else "-", sans=",".join(sorted(peer_sans(peercert))) or "-")
        return False

    def close(self) -> None:
        self._bcrypt.shutdown(wait=False, cancel_futures=True)

    def middleware(self):
        @web.middleware
        async def apply(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
            if self.bucket is not None and not self.bucket.allow():
                # The headers hold for every answer, a refused one too (as the toolkit does); from the config
                # in force, without looking at the file again: a flood costs no stat per request.
                request[HEADERS] = self.config.headers
                return web.Response(status=429, text="Too Many Requests\n")
            try:
                config = self.current()
            except WebConfigError:
                return web.Response(status=500, text="Internal Server Error\n")
            headers = config.headers
            request[HEADERS] = headers  # added to the answer as it is prepared (streamed ones included)
            if not sans_allowed(config, request.transport.get_extra_info("peercert") if request.transport else None):
                response = web.Response(status=403, text="Forbidden: client certificate not allowed\n")
                response.force_close()
                return response
            if config.users and not await self.authorised(config, request.headers.get("Authorization")):
                return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": "Basic"})
            return await handler(request)

        return apply

    def install(self, app: web.Application) -> None:
        app.middlewares.insert(0, self.middleware())

        async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
            response.headers.update(request.get(HEADERS) or {})

        app.on_response_prepare.append(add_headers)

        async def stop(app: web.Application) -> None:
            self.close()

        app.on_cleanup.append(stop)

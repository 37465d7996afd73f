"""XiVO 16 / Wazo services as aiohttp applications, with fault injection.

XiVO 16 serves each daemon on its own port (auth 9497, confd 9486, agentd 9493, amid 9491, ctid-ng 9500);
Wazo serves them behind one gateway as ``/api/<service>/...``. ``start_xivo`` starts either on loopback and
returns the URLs a target needs. Control (no auth): ``/_sim/faults`` (GET, PUT, PATCH) and ``/_sim/log``
(every request received, so tests can assert what the exporter did and did not call), on the auth app.

Faults:
    latency: 0.2              seconds added to every request
    auth_down: true           xivo-auth answers 503 and every service answers 503 (cannot validate tokens)
    max_token_lifetime: 1     tokens expire after this many seconds whatever was asked (expiry mid-poll)
    max_token_uses: 3         tokens stop working after this many requests (expiry mid-poll, independent of
                              the machine's speed)
    status: {confd: 500}      a service answers every request with this status
    retry_after: 60           sent as Retry-After with those answers (429 and 503 ask for a pause)
    devices_status: 503       /devices only (provd down)
    malformed: [agentd]       services whose 200 bodies are cut in half (malformed JSON)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from exporter.simulator.control import FaultSet, faults_endpoint
from exporter.simulator.xivo_model import BACKENDS, XivoModel, XivoScale, tenant_uuid

VERSIONS = {"auth": "0.1", "confd": "1.1", "agentd": "1.0", "amid": "1.0", "calld": "1.0"}
XIVO_PORT_NAMES = {"calld": "ctid-ng"}
DEFAULT_ACLS = ["confd.#.read", "agentd.agents.read", "ctid-ng.calls.read", "calld.calls.read",
                "calld.trunks.read", "calld.lines.read"] + [
    f"amid.action.{a}.create" for a in ("CoreStatus", "CoreShowChannels", "QueueSummary", "QueueStatus",
                                        "SIPpeers", "SIPshowregistry", "PJSIPShowContacts")]
REALM = "XiVO confd"


@dataclass
class XivoFaults(FaultSet):
    latency: float = 0.0
    auth_down: bool = False
    max_token_lifetime: float | None = None
    max_token_uses: int | None = None
    status: dict[str, int] = field(default_factory=dict)
    retry_after: float | None = None
    devices_status: int | None = None
    malformed: list[str] = field(default_factory=list)


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"reason": [reason], "timestamp": [time.time()], "status_code": status},
                             status=status)


class XivoSimulator:
    def __init__(self, generation: str = "xivo16", username: str = "exporter", password: str = "secret",
                 scale: XivoScale | None = None, acls: list[str] | None = None, faults: dict | None = None,
                 digest: bool = True):
        self.model = XivoModel(generation, scale)
        self.username, self.password = username, password
        self.acls = DEFAULT_ACLS if acls is None else acls
        self.faults = XivoFaults()
        if faults:
            self.faults.update(faults)
        self.digest = digest and generation == "xivo16"  # removed in Wazo 18.14
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.revoked: list[str] = []
        self.issued = 0
        self.token_uses: dict[str, int] = {}  # token -> authorised requests (max_token_uses)
        self.log: list[dict] = []
        self._nonces: dict[str, str] = {}  # session cookie -> nonce

    # --- plumbing -------------------------------------------------------------------------------------
    def _service_app(self, service: str) -> web.Application:
        app = web.Application(middlewares=[self._middleware(service)])
        app.router.add_get(f"/{VERSIONS[service]}/api/api.yml", self._spec(service))
        getattr(self, f"_routes_{service}")(app.router, f"/{VERSIONS[service]}")
        return app

    def _spec(self, service: str):
        """The daemon's OpenAPI spec, reduced to its paths (what the exporter reads of it)."""
        paths = {"calld": ["/calls"] + (["/trunks", "/lines"] if self.model.wazo else [])}.get(service, [])
        name = "xivo-ctid-ng" if service == "calld" and not self.model.wazo else f"wazo-{service}"

        async def handler(request: web.Request) -> web.Response:
            text = f"swagger: '2.0'\ninfo:\n  title: {name}\npaths:\n" + "".join(f"  {p}:\n    get: {{}}\n"
                                                                                   for p in paths)
            return web.Response(text=text, content_type="application/x-yaml")

        return handler

    def _middleware(self, service: str):
        @web.middleware
        async def mw(request: web.Request, handler):
            self.log.append({"service": service, "method": request.method, "path": request.path,
                             "query": dict(request.query), "time": time.time()})
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            if request.path.endswith("/api/api.yml"):
                return await handler(request)  # every daemon serves its own spec without auth
            if service != "auth":
                if self.faults.auth_down:
                    return _error(503, "Authentication server on localhost:9497 is unreachable")
                denied = self._check_access(request, service)
                if denied is not None:
                    return denied
            if service in self.faults.status:
                response = _error(self.faults.status[service], "simulated failure")
                if self.faults.retry_after is not None:
                    response.headers["Retry-After"] = f"{self.faults.retry_after:g}"
                return response
            response = await handler(request)
            if service in self.faults.malformed and response.status == 200 and response.body:
                response.body = response.body[: len(response.body) // 2]
            return response

        return mw

    def _acl_for(self, request: web.Request, service: str) -> str:
        parts = [p for p in request.path.split("/") if p]
        parts = parts[parts.index(VERSIONS[service]) + 1:]  # after /api/<service>/<version> or /<version>
        if service == "amid":
            return f"amid.action.{parts[-1]}.create"
        if service == "confd":
            return f"confd.{'.'.join(parts)}.read"
        if service == "agentd":
            return "agentd.agents.read"
        return f"{'ctid-ng' if not self.model.wazo else 'calld'}.{parts[0]}.read"

    @staticmethod
    def _acl_allows(acls: list[str], wanted: str) -> bool:
        for acl in acls:
            if acl == wanted:
                return True
            if acl.endswith(".#.read") and wanted.startswith(acl[:-len("#.read")]) and wanted.endswith(".read"):
                return True
            if acl.endswith(".#") and wanted.startswith(acl[:-1]):
                return True
        return False

    def _check_access(self, request: web.Request, service: str) -> web.Response | None:
        token = request.headers.get("X-Auth-Token")
        if token is None and service == "confd" and self.digest:
            return self._check_digest(request)
        expiry = self.tokens.get(token or "")
        if expiry is None or expiry < time.monotonic():
            return _error(401, "Unauthorized")
        uses = self.token_uses[token] = self.token_uses.get(token, 0) + 1
        if self.faults.max_token_uses is not None and uses > self.faults.max_token_uses:
            del self.tokens[token]  # used up: expired, as far as the client can tell
            return _error(401, "Unauthorized")
        if not self._acl_allows(self.acls, self._acl_for(request, service)):
            return _error(401, "Unauthorized")
        return None

    # --- legacy digest on confd (the nonce lives in a session cookie) ---------------------------------
    def _check_digest(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        session = request.cookies.get("session")
        if header.startswith("Digest ") and session in self._nonces:
            p = dict(item.strip().split("=", 1) for item in header[7:].split(","))
            p = {k: v.strip('"') for k, v in p.items()}
            ha1 = hashlib.md5(f"{self.username}:{REALM}:{self.password}".encode()).hexdigest()  # noqa: S324
            ha2 = hashlib.md5(f"{request.method}:{p.get('uri')}".encode()).hexdigest()  # noqa: S324
            expected = hashlib.md5(  # noqa: S324 - HTTP Digest is MD5 by definition
                f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}".encode()).hexdigest()
            if p.get("nonce") == self._nonces[session] and p.get("response") == expected \
                    and p.get("username") == self.username:
                return None
        session = secrets.token_hex(8)
        nonce = self._nonces[session] = secrets.token_hex(16)
        resp = _error(401, "Unauthorized")
        resp.headers["WWW-Authenticate"] = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
        resp.set_cookie("session", session)
        return resp

    # --- xivo-auth ------------------------------------------------------------------------------------
    def _routes_auth(self, r: web.UrlDispatcher, v: str) -> None:
        r.add_post(f"{v}/token", self.create_token)
        r.add_delete(f"{v}/token/{{token}}", self.revoke_token)

    async def create_token(self, request: web.Request) -> web.Response:
        if self.faults.auth_down:
            return _error(503, "Service Unavailable")
        if request.content_type != "application/json":
            return _error(400, "Content-Type must be application/json")
        try:
            user, _, password = base64.b64decode(request.headers.get("Authorization", "")[6:]).decode().partition(":")
            body = await request.json()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _error(400, "Invalid request")
        if (user, password) != (self.username, self.password) or body.get("backend") != BACKENDS[
                self.model.generation]:
            return _error(401, "Authentication Failed")
        expiration = int(body.get("expiration", 7200))
        lifetime = min(expiration, self.faults.max_token_lifetime or expiration)
        token = str(uuid.uuid4())
        self.tokens[token] = time.monotonic() + lifetime
        self.issued += 1
        now = dt.datetime.now()
        data = {"token": token, "auth_id": "exporter-uuid", "acls": self.acls,
                "issued_at": now.isoformat(), "expires_at": (now + dt.timedelta(seconds=expiration)).isoformat()}
        if self.model.wazo:
            data["utc_expires_at"] = (dt.datetime.utcnow() + dt.timedelta(seconds=expiration)).isoformat()
        return web.json_response({"data": data})

    async def revoke_token(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        self.tokens.pop(token, None)
        self.revoked.append(token)
        return web.json_response({"data": {}})

    # --- confd ----------------------------------------------------------------------------------------
    def _routes_confd(self, r: web.UrlDispatcher, v: str) -> None:
        r.add_get(f"{v}/devices/{{id}}/autoprov", self.forbidden)
        r.add_get(f"{v}/devices/{{id}}/synchronize", self.forbidden)
        r.add_get(f"{v}/{{collection:.+}}", self.collection)

    async def forbidden(self, request: web.Request) -> web.Response:
        # Exists on the real PBX and changes the phone: the log lets tests prove it is never called.
        return web.json_response({"status": "done"})

    async def collection(self, request: web.Request) -> web.Response:
        name = request.match_info["collection"]
        if name not in self.model.collections():
            return _error(404, "Not found")
        if name == "devices" and self.faults.devices_status:
            return _error(self.faults.devices_status, "provd unreachable")
        q = request.query
        try:
            limit = int(q["limit"]) if "limit" in q else None
            offset = int(q.get("offset", "0"))
        except ValueError:
            return web.json_response(["Input Error - field 'limit': wrong type. Should be a positive number"],
                                     status=400)
        if limit is not None and (limit < 0 or (limit == 0 and name != "devices")):
            return web.json_response(["Input Error - field 'limit': wrong type. Should be a positive number"],
                                     status=400)
        items = self.model.items(name)
        if self.model.wazo and q.get("recurse", "false").lower() != "true":
            # wazo-confd lists the token's (or Wazo-Tenant's) tenant only, unless recurse=true adds the
            # tenants below it.
            own = request.headers.get("Wazo-Tenant", tenant_uuid(0))
            items = [i for i in items if i.get("tenant_uuid", own) == own and (name != "tenants" or i["uuid"] == own)]
        for key, value in q.items():
            if key not in ("limit", "offset", "order", "direction", "search", "recurse"):
                items = [i for i in items if str(i.get(key)).lower() == value.lower()]
        page = items[offset:] if limit is None else items[offset:offset + limit]
        return web.json_response({"total": len(items), "items": page})

    # --- agentd, amid, ctid-ng / calld ----------------------------------------------------------------
    def _routes_agentd(self, r: web.UrlDispatcher, v: str) -> None:
        async def agents(request: web.Request) -> web.Response:
            return web.json_response(self.model.agents())

        r.add_get(f"{v}/agents", agents)

    def _routes_amid(self, r: web.UrlDispatcher, v: str) -> None:
        r.add_post(f"{v}/action/{{action}}", self.ami_action)

    async def ami_action(self, request: web.Request) -> web.Response:
        messages = self.model.ami(request.match_info["action"])
        if messages is None:
            return web.json_response([{"Response": "Error", "Message": "Invalid/unknown command"}])
        return web.json_response(messages)

    def _routes_calld(self, r: web.UrlDispatcher, v: str) -> None:
        def listing(items):
            async def handler(request: web.Request) -> web.Response:
                found = items()
                return web.json_response({"items": found, "total": len(found), "filtered": len(found)})

            return handler

        r.add_get(f"{v}/calls", listing(self.model.calls))  # expensive on a real XiVO: never polled
        if self.model.wazo:
            r.add_get(f"{v}/trunks", listing(self.model.calld_trunks))
            r.add_get(f"{v}/lines", listing(self.model.calld_lines))

    # --- control --------------------------------------------------------------------------------------
    def control_app(self) -> web.Application:
        app = web.Application()

        app.router.add_route("*", "/faults", faults_endpoint(self, XivoFaults))
        async def log(request: web.Request) -> web.Response:
            return web.json_response(self.log[-2000:])

        app.router.add_get("/log", log)
        return app


async def _serve(app: web.Application, host: str, ssl_context=None) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)  # a hung fault handler must not hold it
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://{host}:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001


async def start_xivo(sim: XivoSimulator, host: str = "127.0.0.1", ssl_context=None,
                     gateway: bool | None = None) -> tuple[list[web.AppRunner], dict]:
    """Serve ``sim`` on loopback (HTTPS with ``ssl_context``). Returns runners and ``{"url": ...,
    "services": {...}, "api_gateway": bool}``, the keys of a xivo target. XiVO 16: one port per service
    (ephemeral here, so given as overrides); ``gateway=True`` serves a XiVO 16 behind nginx's
    ``/api/<service>/`` paths instead, as 16.15 already can (Wazo always is)."""
    if sim.model.wazo if gateway is None else gateway:
        gateway = web.Application()
        for service in VERSIONS:
            gateway.add_subapp(f"/api/{service}", sim._service_app(service))
        gateway.add_subapp("/_sim", sim.control_app())
        runner, url = await _serve(gateway, host, ssl_context)
        return [runner], {"url": url, "services": {}, "api_gateway": True}
    runners, services = [], {}
    for service, version in VERSIONS.items():
        app = sim._service_app(service)
        if service == "auth":
            app.add_subapp("/_sim", sim.control_app())
        runner, url = await _serve(app, host, ssl_context)
        runners.append(runner)
        services[service] = f"{url}/{version}"
    return runners, {"url": services["confd"].rsplit(":", 1)[0], "services": services, "api_gateway": False}


"""``--web.config.file``: exporter-toolkit's web configuration, with the toolkit's own cases (web/testdata and
the tables TestYAMLFiles, TestServerBehaviour, TestUsers, TestBasicAuthCache, TestBasicAuthWithFakepassword,
TestByPassBasicAuthVuln, TestHTTPHeaders, rate limiting, config reloading) ported: each config accepted or
refused with the same meaning, and real TLS handshakes and HTTP requests (client certificates included) against
the exporter's server with throwaway certificates. Python-only differences are tested as refusals."""

import asyncio
import base64
import contextlib
import logging
import os
import ssl
import subprocess
import sys
import warnings
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from certs import make_certs
from helpers import FakeClock, make_engine

from exporter.web import slowclients
from exporter.web.app import connection_limits, create_app, max_requests_middleware
from exporter.web.security import FAKE_HASH, TokenBucket, VerdictCache, WebSecurity
from exporter.web.tls import ReloadingContext, build_context
from exporter.web.webconfig import WebConfigError, read_web_config

# Cost 4 keeps the suite fast; the toolkit's fixtures use 10 and 12 (one cost-12 hash is used below to show
# bcrypt never runs on the event loop).
DAVE = bcrypt.hashpw(b"dave123", bcrypt.gensalt(4)).decode()
CAROL = bcrypt.hashpw(b"carol123", bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    return make_certs(tmp_path_factory.mktemp("webcerts"))


def write(d: Path, text: str, name: str = "web.yml") -> Path:
    path = d / name
    path.write_text(text)
    return path


def validate(path: Path):
    """What the exporter checks at start (and --config.check): the YAML, then the TLS material."""
    config = read_web_config(str(path))
    if config.tls is not None:
        build_context(config.tls)
    return config


TLS = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"

# (name, config text, error expected: a fragment of the message, None when the config is good).
# Paths are relative to the config file, as in the toolkit.
YAML_CASES = [
    ("empty config yml", "", None),
    ("invalid structure", "tls_server_config: [\n", "invalid YAML"),
    ("invalid key", "tls_server_config:\n  certfile: x\n", "tls_server_config.certfile: unknown key"),
    ("unknown top-level key", "tls_config: {}\n", "tls_config: unknown key"),
    ("duplicate key", TLS + "  key_file: server.key\n", "duplicate key 'key_file'"),
    ("cert path empty", "tls_server_config:\n  cert_file: ''\n  key_file: server.key\n",
     "missing one of cert or cert_file"),
    ("key path empty", "tls_server_config:\n  cert_file: server.pem\n  key_file: ''\n",
     "missing one of key or key_file"),
    ("cert path and key path empty", "tls_server_config:\n  client_auth_type: NoClientCert\n",
     "missing one of cert or cert_file"),
    ("cert path invalid", "tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server.key\n",
     "no such file"),
    ("key path invalid", "tls_server_config:\n  cert_file: server.pem\n  key_file: nowhere.key\n",
     "no such file"),
    ("key of another certificate", "tls_server_config:\n  cert_file: server.pem\n  key_file: client.key\n",
     "failed to load X509KeyPair"),
    ("client CA without policy", TLS + "  client_ca_file: ca.pem\n",
     "client CA's have been configured without a Client Auth Policy"),
    ("invalid ClientAuth", TLS + "  client_auth_type: Sometimes\n  client_ca_file: ca.pem\n",
     "invalid ClientAuth: Sometimes"),
    ("invalid ClientCAs filepath", TLS + "  client_auth_type: RequireAndVerifyClientCert\n"
     "  client_ca_file: nowhere.pem\n", "no such file"),
    ("client CA file without a certificate", TLS + "  client_auth_type: RequireAndVerifyClientCert\n"
     "  client_ca_file: server.key\n", "tls_server_config.client_ca_file: no certificate could be read"),
    ("invalid user list", f"basic_auth_users:\n  dave: {DAVE}\n  carol: nothash\n",
     "basic_auth_users.carol: hashedSecret too short to be a bcrypted password"),
    ("bad cipher", TLS + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_INVENTED]\n",
     "cipher_suites[1]: unknown cipher: TLS_INVENTED"),
    ("bad curves", TLS + "  curve_preferences: [CurveP256, CurveInvented]\n",
     "curve_preferences[1]: unknown curve: CurveInvented"),
    ("bad TLS version", TLS + "  min_version: TLS111\n", "min_version: unknown TLS version: TLS111"),
    ("cert empty (inline)", "tls_server_config:\n  cert: ''\n  key_file: server.key\n",
     "missing one of cert or cert_file"),
    ("key empty (inline)", "tls_server_config:\n  cert_file: server.pem\n  key: ''\n",
     "missing one of key or key_file"),
    ("cert path and key path invalid", "tls_server_config:\n  cert_file: somefile\n  key_file: somefile\n",
     "no such file"),
    ("ciphers without one HTTP/2 needs, http2 on (Go's net/http refuses)", TLS + "  client_auth_type: "
     "VerifyClientCertIfGiven\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n  max_version: TLS12\n",
     "TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher"),
    ("ciphers without one HTTP/2 needs, http2 off", TLS + "  client_auth_type: VerifyClientCertIfGiven\n"
     "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"
     "http_server_config:\n  http2: false\n", None),
    ("good TLS", TLS, None),
    ("all curves", TLS + "  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n", None),
    ("all ciphers Go offers that OpenSSL has", TLS + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "
     "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n", None),
    ("headers good", "http_server_config:\n  headers:\n    Content-Security-Policy: default-src 'self'\n"
     "    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: '1; mode=block'\n"
     "    Strict-Transport-Security: max-age=31536000\n", None),
    ("X-Content-Type-Options invalid", "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
     "invalid value for X-Content-Type-Options"),
    ("X-Frame-Options invalid", "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
     "invalid value for X-Frame-Options"),
    ("header that can not be set", "http_server_config:\n  headers:\n    Server: me\n",
     'HTTP header "Server" can not be configured'),
    ("rate limit, Go duration", "rate_limit:\n  interval: 1h30m\n  burst: 5\n", None),
    ("rate limit, integer nanoseconds", "rate_limit:\n  interval: 500000000\n  burst: 5\n", None),
    ("rate limit, not a Go duration", "rate_limit:\n  interval: 1d\n  burst: 5\n", "rate_limit.interval"),
    ("rate limit off", "rate_limit:\n  interval: 0\n", None),
    # Accepted as Go accepts them (warnings: see test_weak_settings_are_accepted_with_a_warning).
    ("client auth without a CA: the system's CAs, as in Go",
     TLS + "  client_auth_type: RequireAndVerifyClientCert\n", None),
    ("client certificate if given, no CA", TLS + "  client_auth_type: VerifyClientCertIfGiven\n", None),
    ("a header as a YAML integer", "http_server_config:\n  headers:\n    X-XSS-Protection: 1\n", None),
    ("rate limit with burst 0", "rate_limit:\n  interval: 1s\n  burst: 0\n", None),
    # Python's ssl cannot do these as Go does: refused, with the reason.
    ("RequireAnyClientCert (no verification in Python)", TLS + "  client_auth_type: RequireAnyClientCert\n",
     "RequireAnyClientCert is not supported"),
    ("RequestClientCert (no verification in Python)", TLS + "  client_auth_type: RequestClientCert\n",
     "RequestClientCert is not supported"),
    ("some curves (Python cannot restrict TLS 1.3 groups)", TLS + "  curve_preferences: [CurveP521]\n",
     "restricting the curves is not supported"),
    ("SANs without a required certificate", TLS + "  client_auth_type: VerifyClientCertIfGiven\n"
     "  client_ca_file: ca.pem\n  client_allowed_sans: [prometheus.example]\n",
     "client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert"),
]


@pytest.mark.parametrize(("text", "error"), [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_web_config_files(certs, text, error):
    path = write(certs, text)
    if error is None:
        validate(path)
        return
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert error in "\n".join(exc.value.problems)
    assert all(p.startswith(str(path)) or p.startswith("tls_server_config") for p in exc.value.problems)


def test_weak_settings_are_accepted_with_a_warning(certs):
    """What Go accepts with a weak outcome is accepted here too, and said: the warning names the file and key."""
    path = write(certs, TLS + "  client_auth_type: VerifyClientCertIfGiven\nrate_limit: {interval: 1s, burst: 0}\n"
                 "http_server_config:\n  headers:\n    X-XSS-Protection: 1\n")
    config = validate(path)
    assert [w.split(": ", 2)[1] for w in config.warnings] == ["tls_server_config.client_auth_type",
                                                               "rate_limit.burst"]
    assert all(w.startswith(str(path)) for w in config.warnings)
    assert config.headers == {"X-XSS-Protection": "1"} and (config.rate_interval, config.rate_burst) == (1.0, 0)
    assert validate(write(certs, TLS)).warnings == ()


def test_missing_web_config_file(tmp_path):
    with pytest.raises(WebConfigError, match="cannot read: No such file"):
        read_web_config(str(tmp_path / "somefile"))


# --- a running server -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(path: Path, clock=None, on_security=None, on_engine=None, **app_options):
    """The exporter's web app on 127.0.0.1:0 under the web config ``path``, each connection held to the limits
    the command line sets (exporter.web.slowclients); yields the port. ``clock`` drives the rate limiter's token
    bucket (tests move time instead of sleeping); ``on_security`` receives the WebSecurity in use, ``on_engine``
    the engine (its self-metrics)."""
    config = read_web_config(str(path))
    security = WebSecurity(str(path), config)
    if clock is not None and security.bucket is not None:
        security.bucket = TokenBucket(config.rate_interval, config.rate_burst, clock=clock)
    if on_security is not None:
        on_security(security)
    tls = ReloadingContext(lambda: read_web_config(str(path)), str(path)) if config.tls else None
    engine = make_engine()
    if on_engine is not None:
        on_engine(engine)
    runner = web.AppRunner(create_app(engine, manage_engine=False, security=security, **app_options))
    await runner.setup()
    slowclients.install(runner, connection_limits(engine, security))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    finally:
        await runner.cleanup()
        await engine.stop()


def client_context(certs: Path, cert: str | None = None, max_version=None, ciphers: str | None = None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if cert:
        ctx.load_cert_chain(certs / f"{cert}.pem", certs / f"{cert}.key")
    if max_version is not None:
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is what the case shows
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = max_version
    if ciphers:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # cipher choice exists for TLS <= 1.2 only
        ctx.set_ciphers(ciphers)
    return ctx


async def request(port: int, ctx: ssl.SSLContext | None = None, path: str = "/-/healthy",
                  auth: tuple[bytes, bytes] | None = None, header: str | None = None):
    """One HTTP/1.1 request over a fresh connection: (status, headers, body, cipher); status None when the
    server closed the connection without an answer (a refused client certificate shows up on TLS 1.3's first
    read, not in the handshake)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost" if ctx else None), 5)
    cipher = writer.get_extra_info("cipher")
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    if auth is not None:
        lines.append("Authorization: Basic " + base64.b64encode(auth[0] + b":" + auth[1]).decode())
    if header is not None:
        lines.append(f"Authorization: {header}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        data = await asyncio.wait_for(reader.read(), 10)
    except (ssl.SSLError, ConnectionResetError):
        data = b""
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    if not data:
        return None, {}, b"", cipher
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = dict(h.split(": ", 1) for h in header_lines)
    return int(status_line.split()[1]), headers, body, cipher


async def fails(port: int, ctx: ssl.SSLContext | None, **kw) -> str:
    """The request fails at the TLS or connection level (no HTTP answer); returns what failed."""
    try:
        status, *_ = await request(port, ctx, **kw)
    except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError) as exc:
        return repr(exc)
    assert status is None, f"expected a failed connection, got HTTP {status}"
    return "closed"


async def test_no_web_config_plain_http(certs):
    async with serve(write(certs, "")) as port:
        assert (await request(port))[0] == 200
        await fails(port, client_context(certs))  # a TLS client to a plain server: no handshake


async def test_tls_server_and_clients(certs):
    async with serve(write(certs, TLS)) as port:
        status, _, body, cipher = await request(port, client_context(certs))
        assert (status, body) == (200, b"Healthy\n")
        assert cipher[1] == "TLSv1.3"
        # A plain HTTP client gets no metrics from a TLS server.
        status, _, body, _ = await request(port, None)
        assert status in (None, 400) and b"vsxi" not in body
        # The default minimum is TLS 1.2: a TLS 1.1 client fails the handshake.
        await fails(port, client_context(certs, max_version=ssl.TLSVersion.TLSv1_1))


async def served_certificate(port: int, certs: Path) -> bytes:
    """The DER of the certificate the server presents."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(certs), server_hostname="localhost"), 5)
    try:
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_inline_cert_and_key_are_what_the_server_presents(certs):
    """cert and key written in the file itself (server2, not the server.pem the other cases use): the
    certificate the server presents is that one, byte for byte."""
    pem = lambda name: "".join(f"    {x}\n" for x in (certs / name).read_text().splitlines())  # noqa: E731
    path = write(certs, f"tls_server_config:\n  cert: |\n{pem('server2.pem')}  key: |\n{pem('server2.key')}",
                 "inline.yml")
    validate(path)
    async with serve(path) as port:
        assert (await request(port, client_context(certs)))[0] == 200
        assert await served_certificate(port, certs) == ssl.PEM_cert_to_DER_cert((certs / "server2.pem").read_text())


CIPHERS = TLS + ("  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"
                 "  max_version: TLS12\n")


@pytest.mark.parametrize(("prefer", "expected"), [("true", "ECDHE-RSA-AES128-GCM-SHA256"),
                                                  ("false", "ECDHE-RSA-AES256-GCM-SHA384")])
async def test_cipher_suites_and_who_chooses(certs, prefer, expected):
    path = write(certs, CIPHERS + f"  prefer_server_cipher_suites: {prefer}\n")
    async with serve(path) as port:
        # The client prefers AES-256; with the server's preference on, the server's first suite wins.
        ctx = client_context(certs, ciphers="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
        status, _, _, cipher = await request(port, ctx)
        assert (status, cipher[0]) == (200, expected)
        # No suite in common: the handshake fails.
        await fails(port, client_context(certs, ciphers="ECDHE-RSA-AES256-SHA"))


async def test_security_headers_on_every_answer(certs):
    path = write(certs, "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
                        "    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n"
                        f"basic_auth_users:\n  dave: {DAVE}\n")
    async with serve(path) as port:
        for auth, path_, status in ((None, "/-/healthy", 401), ((b"dave", b"dave123"), "/metrics", 200),
                                    ((b"dave", b"dave123"), "/nothing", 404)):
            got, headers, _, _ = await request(port, path=path_, auth=auth)
            assert got == status
            assert headers["X-Frame-Options"] == "deny" and headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Strict-Transport-Security"] == "max-age=31536000"


REQUIRE = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"


async def test_required_client_certificate(certs):
    async with serve(write(certs, REQUIRE)) as port:
        assert (await request(port, client_context(certs, "client")))[0] == 200
        await fails(port, client_context(certs))  # no certificate
        await fails(port, client_context(certs, "stranger"))  # signed by a CA the server does not trust


async def test_client_certificate_if_given(certs):
    path = write(certs, TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n")
    async with serve(path) as port:
        assert (await request(port, client_context(certs)))[0] == 200
        assert (await request(port, client_context(certs, "client")))[0] == 200
        await fails(port, client_context(certs, "stranger"))


async def test_client_certificate_if_given_without_a_ca_uses_the_system_cas(certs):
    """Go's verdict on the toolkit's web_config_noAuth-style file: it starts; no certificate is fine; a
    certificate from a CA the system does not trust (this test's own) fails the handshake."""
    async with serve(write(certs, TLS + "  client_auth_type: VerifyClientCertIfGiven\n")) as port:
        assert (await request(port, client_context(certs)))[0] == 200
        await fails(port, client_context(certs, "client"))
    async with serve(write(certs, TLS + "  client_auth_type: RequireAndVerifyClientCert\n")) as port:
        await fails(port, client_context(certs))  # required, and none given
        await fails(port, client_context(certs, "client"))


@pytest.mark.parametrize(("sans", "allowed"), [
    ("[prometheus.example]", True), ("[prom@example.org]", True), ("['2001:DB8:0:0:0:0:0:1']", True),
    ("[spiffe://example.org/prometheus]", True), ("[grafana.example, other@example.org]", False),
    ("[prometheus]", False)])  # the CN is not a SAN
async def test_client_allowed_sans(certs, sans, allowed):
    """A certificate with one of the SANs is served; one with none has its connection closed as the handshake
    ends (Go: the handshake fails), before any HTTP answer, and counted."""
    engines = []
    async with serve(write(certs, REQUIRE + f"  client_allowed_sans: {sans}\n"), on_engine=engines.append) as port:
        if allowed:
            status, _, body, _ = await request(port, client_context(certs, "client"), path="/metrics")
            assert status == 200 and b"vsxi_xivo_exporter_build_info" in body
        else:
            await fails(port, client_context(certs, "client"), path="/metrics")
        refused = engines[0].metrics.registry.get_sample_value(
            "vsxi_xivo_exporter_http_client_certificates_refused_total")
        assert refused == (0 if allowed else 1)


async def test_refused_client_certificates_logged_once_a_minute(certs, caplog):
    """Every refused connection counted; one log line (with the SANs the certificate has) for a burst."""
    engines = []
    caplog.set_level(logging.WARNING, logger="exporter.web")
    async with serve(write(certs, REQUIRE + "  client_allowed_sans: [grafana.example]\n"),
                     on_engine=engines.append) as port:
        for _ in range(5):
            await fails(port, client_context(certs, "client"))
        assert (await request(port, client_context(certs, "client")))[0] is None
    assert engines[0].metrics.registry.get_sample_value(
        "vsxi_xivo_exporter_http_client_certificates_refused_total") == 6
    lines = [r for r in caplog.records if "client certificate refused" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "prometheus.example" in lines[0].fields["sans"].split(",")
    assert lines[0].fields["peer"] == "127.0.0.1"


async def test_sans_narrowed_while_a_connection_is_open(certs):
    """A connection let in before the list changed is checked again on its next request: 403, and closed; a
    new connection is then refused as its handshake ends."""
    path = write(certs, REQUIRE + "  client_allowed_sans: [prometheus.example]\n")
    async with serve(path) as port:
        connector = aiohttp.TCPConnector(ssl=client_context(certs, "client"), limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            url = f"https://localhost:{port}/-/healthy"
            async with session.get(url) as first:
                assert first.status == 200
                await first.read()
            path.write_text(REQUIRE + "  client_allowed_sans: [grafana.example]\n")
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
            async with session.get(url) as second:  # the same, kept-alive connection
                assert second.status == 403
        await fails(port, client_context(certs, "client"))


async def test_users(certs):
    path = write(certs, f"basic_auth_users:\n  dave: {DAVE}\n  carol: {CAROL}\n")
    async with serve(path) as port:
        status, headers, body, _ = await request(port, path="/metrics")
        assert (status, headers.get("WWW-Authenticate"), body) == (401, "Basic", b"Unauthorized\n")
        assert (await request(port, path="/metrics", auth=(b"dave", b"dave123")))[0] == 200
        assert (await request(port, path="/metrics", auth=(b"carol", b"carol123")))[0] == 200
        for auth in ((b"dave", b"carol123"), (b"carol", b"dave123"), (b"nobody", b"dave123"), (b"dave", b""),
                     (b"", b"")):
            status, _, body, _ = await request(port, path="/metrics", auth=auth)
            assert status == 401 and b"vsxi" not in body, auth
        for header in ("Basic !!!notbase64", "Bearer dave123", "Basic " + base64.b64encode(b"davedave123").decode()):
            assert (await request(port, path="/metrics", header=header))[0] == 401
        # Every path is behind the same auth, /-/reload and the health checks included.
        for path_ in ("/", "/-/healthy", "/-/ready", "/-/reload", "/probe?target=x"):
            assert (await request(port, path=path_))[0] == 401, path_


async def test_unknown_user_with_the_fake_password(certs):
    """The fixed hash unknown users are checked against is of "fakepassword": it must not let them in."""
    assert bcrypt.checkpw(b"fakepassword", FAKE_HASH)
    async with serve(write(certs, f"basic_auth_users:\n  dave: {DAVE}\n")) as port:
        assert (await request(port, auth=(b"fakeuser", b"fakepassword")))[0] == 401


async def test_password_with_colons_and_over_72_bytes(certs):
    long = b"x" * 72
    path = write(certs, f"basic_auth_users:\n  colon: {bcrypt.hashpw(b'a:b:c', bcrypt.gensalt(4)).decode()}\n"
                        f"  long: {bcrypt.hashpw(long, bcrypt.gensalt(4)).decode()}\n")
    async with serve(path) as port:
        assert (await request(port, auth=(b"colon", b"a:b:c")))[0] == 200
        assert (await request(port, auth=(b"colon", b"a")))[0] == 401
        # bcrypt reads 72 bytes; as in Go, what follows is not part of the password (no 500 from pyca's error).
        assert (await request(port, auth=(b"long", long + b"more")))[0] == 200


async def test_cached_verdict_cannot_be_borrowed(certs):
    """TestByPassBasicAuthVuln (CVE-2022-46146): a verdict cached for one user/hash/password must never answer
    for another combination built from the same characters."""
    path = write(certs, f"basic_auth_users:\n  dave: {DAVE}\n  carol: {CAROL}\n")
    async with serve(path) as port:
        assert (await request(port, auth=(b"dave", b"dave123")))[0] == 200
        for user, password in ((b"carol", b"dave123"), (b"dave" + DAVE.encode(), b"dave123"),
                               (b"dave:", b"dave123"), (b"dav", b"edave123"), (b"nobody", b"dave123")):
            assert (await request(port, auth=(user, password)))[0] == 401, (user, password)
    keys = {VerdictCache.key(u, h, p) for u, h, p in ((b"a:b", b"h", b"c"), (b"a", b"h", b"b:c"), (b"a", b"b:h", b"c"))}
    assert len(keys) == 3


def test_verdict_cache_is_bounded():
    cache = VerdictCache()
    for i in range(1000):
        cache.put(f"k{i}", True)
        assert len(cache.verdicts) <= 100
    assert cache.get("k999") is True


async def test_bcrypt_never_runs_on_the_event_loop(certs, monkeypatch):
    """Every bcrypt comparison runs in the bcrypt thread, one at a time, never on the event loop's thread; a
    verdict is cached, so the same wrong password again costs no comparison. Checked by recording where and
    how often bcrypt runs, not by timing the loop."""
    import threading

    slow = bcrypt.hashpw(b"alice123", bcrypt.gensalt(12)).decode()  # ~250 ms per compare
    calls, running, overlap = [], [0], [False]
    checkpw = bcrypt.checkpw

    def recording_checkpw(password, hashed):
        running[0] += 1
        overlap[0] |= running[0] > 1
        calls.append(threading.current_thread())
        try:
            return checkpw(password, hashed)
        finally:
            running[0] -= 1

    monkeypatch.setattr(bcrypt, "checkpw", recording_checkpw)
    async with serve(write(certs, f"basic_auth_users:\n  alice: {slow}\n")) as port:
        loop_thread = threading.current_thread()
        results = await asyncio.gather(*(request(port, auth=(b"alice", f"wrong{i}".encode())) for i in range(3)))
        assert [r[0] for r in results] == [401, 401, 401]
        assert len(calls) == 3 and all(t is not loop_thread and t.name.startswith("bcrypt") for t in calls)
        assert not overlap[0]  # one at a time
        assert (await request(port, auth=(b"alice", b"wrong0")))[0] == 401
        assert len(calls) == 3  # the cached verdict: no fourth comparison


async def test_rate_limit(certs):
    clock = FakeClock(1000.0)
    async with serve(write(certs, "rate_limit:\n  interval: 1s\n  burst: 2\n"), clock=clock) as port:
        statuses = [(await request(port))[0] for _ in range(5)]
        assert statuses == [200, 200, 429, 429, 429]  # the clock stands still: no token comes back
        status, headers, body, _ = await request(port)
        assert status == 429 and body == b"Too Many Requests\n"
        clock.now += 1.0  # one interval: one token back, and only one
        assert [(await request(port))[0] for _ in range(2)] == [200, 429]
    async with serve(write(certs, "rate_limit:\n  interval: 0\n  burst: 0\n")) as port:
        assert [(await request(port))[0] for _ in range(10)] == [200] * 10
    # burst 0 with an interval: started, and every request refused, as the toolkit's own test expects.
    async with serve(write(certs, "rate_limit:\n  interval: 1s\n  burst: 0\n"), clock=clock) as port:
        assert [(await request(port))[0] for _ in range(3)] == [429] * 3
        clock.now += 60.0
        assert (await request(port))[0] == 429


async def test_rate_limit_comes_before_auth(certs):
    path = write(certs, f"rate_limit:\n  interval: 1m\n  burst: 1\nbasic_auth_users:\n  dave: {DAVE}\n"
                        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    async with serve(path) as port:
        assert (await request(port))[0] == 401
        status, headers, _, _ = await request(port, auth=(b"dave", b"dave123"))
        # Refused before auth; the security headers hold for it too (the toolkit's rate_limiter_headers test).
        assert status == 429 and "WWW-Authenticate" not in headers and headers["X-Frame-Options"] == "deny"


async def test_config_reloaded_without_restart(certs):
    """TestConfigReloading: the file is read again for every connection and request: a policy that blocks a
    client, then relaxed, lets the next connection in; users change at once; a broken file answers 500 and
    fails handshakes until it is fixed, the server living on."""
    path = write(certs, REQUIRE, "reload.yml")
    async with serve(path) as port:
        await fails(port, client_context(certs))
        path.write_text(TLS)
        assert (await request(port, client_context(certs)))[0] == 200
        path.write_text(TLS + f"basic_auth_users:\n  dave: {DAVE}\n")
        assert (await request(port, client_context(certs)))[0] == 401
        assert (await request(port, client_context(certs), auth=(b"dave", b"dave123")))[0] == 200
        path.write_text(TLS + "basic_auth_users: [\n")
        await fails(port, client_context(certs))
        path.write_text(TLS)
        assert (await request(port, client_context(certs)))[0] == 200


async def test_broken_file_answers_500_on_plain_http(certs):
    path = write(certs, f"basic_auth_users:\n  dave: {DAVE}\n", "plain.yml")
    async with serve(path) as port:
        path.write_text("basic_auth_users: {dave: short}\n")
        status, _, body, _ = await request(port, auth=(b"dave", b"dave123"), path="/metrics")
        assert status == 500 and b"vsxi" not in body
        path.write_text(f"basic_auth_users:\n  dave: {DAVE}\n")
        assert (await request(port, auth=(b"dave", b"dave123")))[0] == 200


async def test_certificate_rotation_without_restart(certs, tmp_path):
    for name in ("server.pem", "server.key", "ca.pem"):
        (tmp_path / name).write_bytes((certs / name).read_bytes())
    path = write(tmp_path, TLS)

    def serial(cert_path: Path) -> str:
        return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(cert_path)], capture_output=True,
                              text=True, check=True).stdout.strip().split("=")[1]

    async def served_serial(port) -> str:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(certs),
                                                  server_hostname="localhost")
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        pem = ssl.DER_cert_to_PEM_cert(der)
        (tmp_path / "seen.pem").write_text(pem)
        return serial(tmp_path / "seen.pem")

    async with serve(path) as port:
        assert await served_serial(port) == serial(certs / "server.pem")
        (tmp_path / "server.pem").write_bytes((certs / "server2.pem").read_bytes())
        (tmp_path / "server.key").write_bytes((certs / "server2.key").read_bytes())
        assert await served_serial(port) == serial(certs / "server2.pem")


async def test_telemetry_path_and_max_requests(certs):
    async with serve(write(certs, ""), telemetry_path="/x/metrics") as port:
        status, _, body, _ = await request(port, path="/x/metrics")
        assert status == 200 and b"vsxi_xivo_exporter_build_info" in body
        assert (await request(port, path="/metrics"))[0] == 404
        _, _, landing, _ = await request(port, path="/")
        assert b'href="/x/metrics"' in landing


async def test_max_requests_answers_503_over_the_limit(aiohttp_client):
    release, both_inside = asyncio.Event(), asyncio.Event()
    inside = 0

    async def slow(request):
        nonlocal inside
        if request.path == "/metrics":
            inside += 1
            if inside == 2:
                both_inside.set()
        await release.wait()
        return web.Response(text="ok")

    app = web.Application(middlewares=[max_requests_middleware(2, ("/metrics",))])
    app.router.add_get("/metrics", slow)
    app.router.add_get("/other", slow)
    client = await aiohttp_client(app)
    held = [asyncio.ensure_future(client.get("/metrics")) for _ in range(2)]
    await asyncio.wait_for(both_inside.wait(), 30)  # both held requests are being served
    over = await client.get("/metrics")
    assert over.status == 503 and "Limit of concurrent requests reached (2)" in await over.text()
    other = asyncio.ensure_future(client.get("/other"))  # other paths are not counted
    release.set()
    assert [r.status for r in await asyncio.gather(*held, other)] == [200, 200, 200]
    assert (await client.get("/metrics")).status == 200


def test_cli_refuses_a_bad_web_config_naming_file_and_key(certs):
    path = write(certs, TLS + "  client_auth_type: Sometimes\n", "cli.yml")
    proc = subprocess.run([sys.executable, "-m", "exporter", "--demo", "--web.config.file", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{path}: tls_server_config.client_auth_type: invalid ClientAuth: Sometimes"


def test_readme_example_is_a_valid_web_config(tmp_path):
    text = (Path(__file__).parent.parent / "README.md").read_text()
    block = text.split("### Securing the endpoint", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = read_web_config(str(write(tmp_path, block)))
    assert config.tls is not None and config.users and config.rate_interval == 0.1 and config.rate_burst == 50
    password = b"change-me"
    assert bcrypt.checkpw(password, next(iter(config.users.values())))


def test_weak_settings_are_said_once_at_start(certs, tmp_path):
    """The running exporter logs each weak-but-accepted setting once, naming file and key."""
    from helpers import Exporter

    web = write(certs, "rate_limit:\n  interval: 1s\n  burst: 0\n", name="weak.yml")
    config = tmp_path / "config.yml"
    config.write_text("vsxi: []\n")
    exporter = Exporter("--config.file", str(config), "--web.config.file", str(web))
    try:
        lines = [line for line in exporter.lines if "weak setting" in line]
        assert len(lines) == 1 and f"{web}: rate_limit.burst: 0 with an interval set" in lines[0]
    finally:
        exporter.stop()

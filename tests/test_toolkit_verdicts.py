"""The exporter-toolkit's own test data, file by file, gives Go's verdict here (or a documented refusal).

For each file of the toolkit's ``web/testdata`` its Go tests use (``TestYAMLFiles``, ``TestServerBehaviour``,
``TestUsers``, the reload test, ``TestHandler``, ``TestHeadersOnRateLimitedResponse``), a case of our own:
the same keys and values in our own file, certificates made by the test (``server.pem`` for their
``server.crt``, our CA for their self-signed client CA), run as the Go tests run it: the file validated at
start (Go's error, by the same words), and for the server cases, real clients against the running server.
Where Python's ``ssl`` cannot do what Go does, the case asserts the documented refusal (docs/web-config.md,
"Where Python differs from Go").
"""

from pathlib import Path

import pytest
from certs import make_certs
from test_webconfig import (
    CAROL,
    DAVE,
    TLS,
    client_context,
    fails,
    request,
    serve,
    validate,
    write,
)

from exporter.web.webconfig import WebConfigError

VERIFY_IF_GIVEN = TLS + "  client_auth_type: VerifyClientCertIfGiven\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    return make_certs(tmp_path_factory.mktemp("toolkit"))

# toolkit file -> (our file, the error Go gives, by its words; None: starts)
AT_START = {
    "web_config_empty.yml": ("", None),
    "web_config_junk.yml": ("tls_server_config: [cert_file\n", "invalid YAML"),
    "web_config_junk_key.yml": ("tls_server_config:\n  cert_filse: server.pem\n", "unknown key"),
    "web_config_noAuth_certPath_empty.bad.yml": ("tls_server_config:\n  cert_file: ''\n  key_file: server.key\n",
                                                 "missing one of cert or cert_file"),
    "web_config_noAuth_cert_empty.bad.yml": ("tls_server_config:\n  cert: ''\n  key_file: server.key\n",
                                             "missing one of cert or cert_file"),
    "web_config_noAuth_keyPath_empty.bad.yml": ("tls_server_config:\n  cert_file: server.pem\n  key_file: ''\n",
                                                "missing one of key or key_file"),
    "web_config_noAuth_key_empty.bad.yml": ("tls_server_config:\n  cert_file: server.pem\n  key: ''\n",
                                            "missing one of key or key_file"),
    "web_config_noAuth_certPath_keyPath_empty.bad.yml": ("tls_server_config:\n  cert_file: ''\n  key_file: ''\n"
                                                         "  client_auth_type: x\n", "missing one of cert or cert_file"),
    "web_config_noAuth_certPath_invalid.bad.yml": ("tls_server_config:\n  cert_file: somefile\n"
                                                   "  key_file: server.key\n", "no such file"),
    "web_config_noAuth_keyPath_invalid.bad.yml": ("tls_server_config:\n  cert_file: server.pem\n"
                                                  "  key_file: somefile\n", "no such file"),
    "web_config_noAuth_certPath_keyPath_invalid.bad.yml": ("tls_server_config:\n  cert_file: somefile\n"
                                                           "  key_file: somefile\n", "no such file"),
    "web_config_noAuth.bad.yml": (TLS + "  client_ca_file: /dev/null\n",
                                  "client CA's have been configured without a Client Auth Policy"),
    "web_config_auth_clientCAs_invalid.bad.yml": (TLS + "  client_ca_file: somefile\n", "no such file"),
    "web_config_auth_user_list_invalid.bad.yml": (f"basic_auth_users:\n  dave: {DAVE}\n  carol: nothash\n",
                                                  "hashedSecret too short to be a bcrypted password"),
    "web_config_noAuth_inventedCiphers.bad.yml": (VERIFY_IF_GIVEN + "  cipher_suites:\n  - TLS_RSA_WITH_NOTHING\n",
                                                  "unknown cipher"),
    "web_config_noAuth_inventedCurves.bad.yml": (VERIFY_IF_GIVEN + "  curve_preferences:\n  - CurveCatmull\n",
                                                 "unknown curve"),
    "web_config_noAuth_wrongTLSVersion.bad.yml": (VERIFY_IF_GIVEN + "  min_version: TLS111\n",
                                                  "unknown TLS version"),
    "web_config_noAuth_noHTTP2Cipher.bad.yml": (VERIFY_IF_GIVEN + "  cipher_suites:\n"
                                                "    - TLS_RSA_WITH_AES_128_CBC_SHA\n  max_version: TLS12\n",
                                                "TLSConfig.CipherSuites is missing an HTTP/2-required"),
    "web_config_headers_content_type_options.bad.yml": (
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff-yes\n", "invalid value for"),
    "web_config_headers_frame_options.bad.yml": ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                                                 "invalid value for"),
    "web_config_headers_extra_header.bad.yml": ("http_server_config:\n  headers:\n    Custom: value\n",
                                                'HTTP header "Custom" can not be configured'),
    # Documented refusals: Python's ssl cannot do these as Go does.
    "tls_config_noAuth.requireanyclientcert.good.yml": (TLS + "  client_auth_type: RequireAnyClientCert\n"
                                                        "  client_ca_file: ca.pem\n",
                                                        "RequireAnyClientCert is not supported"),
    "web_config_noAuth_someCurves.good.yml": (VERIFY_IF_GIVEN + "  min_version: TLS13\n  curve_preferences:\n"
                                              "  - CurveP521\n", "restricting the curves is not supported"),
}
DOCUMENTED_REFUSALS = {"tls_config_noAuth.requireanyclientcert.good.yml", "web_config_noAuth_someCurves.good.yml"}


@pytest.mark.parametrize("toolkit_file", sorted(AT_START))
def test_checked_at_start(certs, toolkit_file):
    text, error = AT_START[toolkit_file]
    path = write(certs, text, name=toolkit_file)
    if error is None:
        validate(path)
        return
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert error in "\n".join(exc.value.problems), exc.value.problems
    assert (toolkit_file in DOCUMENTED_REFUSALS) == toolkit_file.endswith(".good.yml")


async def ok(port, ctx=None, **kw) -> bool:
    return (await request(port, ctx, **kw))[0] == 200


ALL_CIPHERS = ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 "
               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 "
               "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 "
               "TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 "
               "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA "
               "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA "
               "TLS_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_RSA_WITH_AES_256_GCM_SHA384").split()
SOME_CIPHERS = VERIFY_IF_GIVEN + ("  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                                  "  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  min_version: TLS12\n"
                                  "  max_version: TLS12\n")
AES128, AES256 = "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"


async def test_web_config_noAuth_good(certs):  # noqa: N802 - named after the toolkit's file
    """TLS, client certificate if given, no client CA: a TLS client is served; plain HTTP and a TLS 1.1 client
    are not."""
    import ssl

    async with serve(write(certs, VERIFY_IF_GIVEN, name="web_config_noAuth.good.yml")) as port:
        assert await ok(port, client_context(certs))
        assert (await request(port, None))[0] in (None, 400)  # HTTP to an HTTPS server: no answer, or 400
        await fails(port, client_context(certs, max_version=ssl.TLSVersion.TLSv1_1))


async def test_web_config_noAuth_tlsInline_good(certs):  # noqa: N802
    cert = (certs / "server.pem").read_text().replace("\n", "\n    ")
    key = (certs / "server.key").read_text().replace("\n", "\n    ")
    text = (f"tls_server_config:\n  cert: |\n    {cert}\n  key: |\n    {key}\n"
            "  client_auth_type: VerifyClientCertIfGiven\n")
    async with serve(write(certs, text, name="web_config_noAuth_tlsInline.good.yml")) as port:
        assert await ok(port, client_context(certs))


async def test_web_config_noAuth_allCiphers_good(certs):  # noqa: N802
    """Every suite Go offers: those this OpenSSL has are accepted (RC4/3DES are not in Go's list either)."""
    text = VERIFY_IF_GIVEN + "  cipher_suites:\n" + "".join(f"  - {c}\n" for c in ALL_CIPHERS)
    async with serve(write(certs, text, name="web_config_noAuth_allCiphers.good.yml")) as port:
        assert await ok(port, client_context(certs))


async def test_web_config_noAuth_someCiphers_good(certs):  # noqa: N802
    """A shared suite is used; none shared fails the handshake; with two offered, the server's order wins."""
    async with serve(write(certs, SOME_CIPHERS, name="web_config_noAuth_someCiphers.good.yml")) as port:
        assert await ok(port, client_context(certs, ciphers=AES128))
        await fails(port, client_context(certs, ciphers="ECDHE-RSA-AES256-SHA"))
        status, _, _, cipher = await request(port, client_context(certs, ciphers=f"{AES128}:{AES256}"))
        assert status == 200 and cipher[0] == AES128


async def test_web_config_noAuth_someCiphers_noOrder_good(certs):  # noqa: N802
    """prefer_server_cipher_suites: false: the client's first choice wins."""
    text = VERIFY_IF_GIVEN + ("  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
                              "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  prefer_server_cipher_suites: false\n"
                              "  min_version: TLS12\n  max_version: TLS12\n")
    async with serve(write(certs, text, name="web_config_noAuth_someCiphers_noOrder.good.yml")) as port:
        status, _, _, cipher = await request(port, client_context(certs, ciphers=f"{AES128}:{AES256}"))
        assert status == 200 and cipher[0] == AES128


async def test_web_config_noAuth_allCurves_good(certs):  # noqa: N802
    text = VERIFY_IF_GIVEN + "  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n"
    async with serve(write(certs, text, name="web_config_noAuth_allCurves.good.yml")) as port:
        assert await ok(port, client_context(certs))


async def test_web_config_noAuth_noHTTP2_good(certs):  # noqa: N802
    text = VERIFY_IF_GIVEN + ("  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  max_version: TLS12\n"
                              "http_server_config:\n  http2: false\n")
    async with serve(write(certs, text, name="web_config_noAuth_noHTTP2.good.yml")) as port:
        assert await ok(port, client_context(certs))


async def test_web_config_headers_good(certs):  # noqa: N802
    text = ("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: "
            "max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n"
            "    Content-Security-Policy: \"default-src 'self' *.test.example.net\"\n")
    async with serve(write(certs, text, name="web_config_headers.good.yml")) as port:
        status, headers, _, _ = await request(port)
        assert status == 200 and headers["X-XSS-Protection"] == "1" and headers["X-Frame-Options"] == "deny"
        assert headers["Content-Security-Policy"] == "default-src 'self' *.test.example.net"


async def test_tls_config_noAuth_requireandverifyclientcert_good(certs):  # noqa: N802
    text = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
    async with serve(write(certs, text, name="tls_config_noAuth.requireandverifyclientcert.good.yml")) as port:
        assert await ok(port, client_context(certs, "client"))
        await fails(port, client_context(certs))


@pytest.mark.parametrize(("toolkit_file", "sans", "served"), [
    ("web_config_auth_client_san.good.yaml", "[one, prometheus.example, two]", True),
    ("web_config_auth_client_san.bad.yaml", "[bad]", False)])
async def test_web_config_auth_client_san(certs, toolkit_file, sans, served):
    """A SAN on the list is served; none is refused (Go: at the handshake; here: 403 on the first request and
    the connection closed, docs/web-config.md)."""
    text = TLS + ("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
                  f"  client_allowed_sans: {sans}\n")
    async with serve(write(certs, text, name=toolkit_file)) as port:
        status = (await request(port, client_context(certs, "client")))[0]
        assert status == (200 if served else 403)


async def test_web_config_rate_limiter_nonblocking(certs):
    async with serve(write(certs, "rate_limit:\n  interval: 0\n  burst: 0\n",
                           name="web_config_rate_limiter_nonblocking.yaml")) as port:
        assert [await ok(port) for _ in range(11)] == [True] * 11


async def test_web_config_rate_limiter_one_second(certs):
    async with serve(write(certs, "rate_limit:\n  interval: \"1s\"\n  burst: 0\n",
                           name="web_config_rate_limiter_one_second.yaml")) as port:
        assert [(await request(port))[0] for _ in range(11)] == [429] * 11


async def test_web_config_rate_limiter_headers(certs):
    """TestHeadersOnRateLimitedResponse: the configured headers are on the 429 as on the 200."""
    text = ("rate_limit:\n  interval: 1h\n  burst: 1\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n")
    async with serve(write(certs, text, name="web_config_rate_limiter_headers.yaml")) as port:
        served, limited = await request(port), await request(port)
        assert (served[0], limited[0]) == (200, 429)
        for header in ("X-Frame-Options", "Strict-Transport-Security"):
            assert limited[1][header] == served[1][header]


@pytest.mark.parametrize("toolkit_file", ["web_config_users_noTLS.good.yml", "web_config_users.good.yml"])
async def test_users(certs, toolkit_file):
    """TestUsers: no credentials, a bad password and an unknown user are 401; dave and carol are served."""
    tls = TLS if "noTLS" not in toolkit_file else ""
    text = tls + f"basic_auth_users:\n  dave: {DAVE}\n  carol: {CAROL}\n"
    async with serve(write(certs, text, name=toolkit_file)) as port:
        ctx = (lambda: client_context(certs)) if tls else (lambda: None)
        assert (await request(port, ctx()))[0] == 401
        assert await ok(port, ctx(), auth=(b"dave", b"dave123"))
        assert await ok(port, ctx(), auth=(b"carol", b"carol123"))
        assert (await request(port, ctx(), auth=(b"dave", b"bad")))[0] == 401
        assert (await request(port, ctx(), auth=(b"nonexistent", b"nonexistent")))[0] == 401


async def test_web_config_noAuth_good_blocking_then_reloaded(certs, tmp_path):  # noqa: N802
    """TestConfigReloading: a blocking policy refuses a client without a certificate; the file swapped for
    web_config_noAuth.good.yml lets it in, no restart."""
    import os

    path = write(certs, TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
                 name="web_config_noAuth.good.blocking.yml")
    async with serve(path) as port:
        await fails(port, client_context(certs))
        path.write_text(VERIFY_IF_GIVEN)
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        assert await ok(port, client_context(certs))


def test_every_file_the_go_tests_use_has_a_case():
    """The list above against the toolkit's test tables (the files they name, as read in 2026-11)."""
    used = {
        *AT_START, "web_config_noAuth.good.yml", "web_config_noAuth_tlsInline.good.yml",
        "web_config_noAuth_allCiphers.good.yml", "web_config_noAuth_someCiphers.good.yml",
        "web_config_noAuth_someCiphers_noOrder.good.yml", "web_config_noAuth_allCurves.good.yml",
        "web_config_noAuth_noHTTP2.good.yml", "web_config_headers.good.yml",
        "tls_config_noAuth.requireandverifyclientcert.good.yml", "web_config_auth_client_san.good.yaml",
        "web_config_auth_client_san.bad.yaml", "web_config_rate_limiter_nonblocking.yaml",
        "web_config_rate_limiter_one_second.yaml", "web_config_users_noTLS.good.yml", "web_config_users.good.yml",
        "web_config_noAuth.good.blocking.yml", "web_config_rate_limiter_headers.yaml"}
    here = Path(__file__).read_text()
    assert all(name in here for name in used) and len(used) == 40

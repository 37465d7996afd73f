"""The exporter-toolkit's own test data, file by file, gives Go's verdict here (or a documented refusal).

For each YAML file of the toolkit's ``web/testdata`` (those its Go tests use: ``TestYAMLFiles``,
``TestServerBehaviour``, ``TestUsers``, the reload test, ``TestHandler``, ``TestHeadersOnRateLimitedResponse``;
and those its history holds beside them: earlier names, proposals' keys), a case of our own:
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
    # In the toolkit's testdata beside the files its tests read: a client CA that holds no certificate, and
    # client_allowed_sans under a policy that lets a client in without a certificate.
    "web_config_auth_clientCAs_nocerts.bad.yml": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: not-a-certificate.pem\n",
        "tls_server_config.client_ca_file: no certificate could be read"),
    "web_config_auth_clientCAsText_nocerts.bad.yml": (
        TLS + '  client_auth_type: RequireAndVerifyClientCert\n  client_ca: "this is not a PEM encoded certificate"\n',
        "tls_server_config.client_ca: no certificate could be read"),
    "web_config_auth_client_san_no_client_auth.bad.yaml": (
        TLS + "  client_allowed_sans:\n    - one\n",
        "tls_server_config.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert"),
    "web_config_auth_client_san_optional_cert.bad.yaml": (
        VERIFY_IF_GIVEN + "  client_ca_file: ca.pem\n  client_allowed_sans:\n    - one\n",
        "tls_server_config.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert"),
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
    (certs / "not-a-certificate.pem").write_text("This file is intentionally not a PEM encoded certificate.\n")
    path = write(certs, text, name=toolkit_file)
    if error is None:
        validate(path)
        return
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert error in "\n".join(exc.value.problems), exc.value.problems
    assert all(p.startswith(f"{path}: ") for p in exc.value.problems), exc.value.problems  # the file named
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
    """A SAN on the list is served; none fails the connection (Go: inside the handshake; here: closed as the
    handshake ends, before any answer, docs/web-config.md)."""
    text = TLS + ("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
                  f"  client_allowed_sans: {sans}\n")
    async with serve(write(certs, text, name=toolkit_file)) as port:
        if served:
            assert await ok(port, client_context(certs, "client"))
        else:
            await fails(port, client_context(certs, "client"))


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


# The toolkit's repository history holds more of web/testdata than its tests read today: the same cases under
# their earlier names (tls_config_*, before the rename to web_config_*), and the files of proposals whose keys
# its documented format does not have. Each has a case here too.
CLIENT_CA_IF_GIVEN = VERIFY_IF_GIVEN + "  client_ca_file: ca.pem\n"
EARLIER_NAMES = {
    "tls_config_noAuth.bad.yml": (TLS + "  client_ca_file: /dev/null\n",
                                  "client CA's have been configured without a Client Auth Policy"),
    "tls_config_noAuth_certPath_empty.bad.yml": ("tls_server_config :\n  cert_file : ''\n  key_file : server.key",
                                                 "missing one of cert or cert_file"),
    "tls_config_noAuth_certPath_invalid.bad.yml": ("tls_server_config :\n  cert_file : somefile\n"
                                                   "  key_file : server.key", "no such file"),
    "tls_config_noAuth_keyPath_empty.bad.yml": ("tls_server_config :\n  cert_file : server.pem\n  key_file : ''",
                                                "missing one of key or key_file"),
    "tls_config_noAuth_inventedCurves.bad.yml": (VERIFY_IF_GIVEN + "  curve_preferences:\n    - CurveP257\n",
                                                 "unknown curve: CurveP257"),
    "tls_config_noAuth_wrongTLSVersion.bad.yml": (VERIFY_IF_GIVEN + "  min_version: TLS111\n",
                                                  "unknown TLS version: TLS111"),
    "tls_config_auth_user_list_invalid.bad.yml": (TLS + "basic_auth_users:\n  john: doe\n",
                                                  "basic_auth_users.john: hashedSecret too short"),
    # Documented refusals, as for their current names.
    "tls_config_noAuth_someCurves.good.yml": (CLIENT_CA_IF_GIVEN + "  min_version: TLS13\n  curve_preferences:\n"
                                              "  - CurveP521\n", "restricting the curves is not supported"),
    "tls_config_noAuth.requireanyclientcertkeyinline.good.yml": ("inline key", "RequireAnyClientCert is not supported"),
}

# proposal file -> (our file, the key the documented format lacks): refused as an unknown key, as the toolkit
# itself refuses them (its YAML is read strictly).
PROPOSALS = {
    "web_config_auth_excluded_paths.good.yml": (f"auth_excluded_paths:\n  - /metrics\n\nbasic_auth_users:\n"
                                                f"    admin: {DAVE}\n", "auth_excluded_paths"),
    "web_config_users.authexcludedpaths.good.yml": (TLS + f"basic_auth_users:\n  dave: {DAVE}\n\n"
                                                    "auth_excluded_paths:\n- /somepath\n", "auth_excluded_paths"),
    "web_config_users_noTLS.authexcludedpaths.good.yml": (f"basic_auth_users:\n  dave: {DAVE}\n\n"
                                                          "auth_excluded_paths:\n- /somepath\n",
                                                          "auth_excluded_paths"),
    "tls_config_noAuth.requireandverifyclientcert.authexcludedpaths.good.yml": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n\n"
        "auth_excluded_paths:\n- /somepath\n", "auth_excluded_paths"),
    "web_config_auth_client_san.authexcludedpaths.bad.yaml": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans:\n"
        "    - bad\n\nauth_excluded_paths:\n- /somepath\n", "auth_excluded_paths"),
    "web_config_users_noTLS_excludePath.good.yml": (f"basic_auth_excluded_paths:\n- /\n\nbasic_auth_users:\n"
                                                    f"  dave: {DAVE}\n", "basic_auth_excluded_paths"),
    "web_config_tokens.good.yml": (TLS + "bearer_auth_tokens:\n  - TokenTest12345\n", "bearer_auth_tokens"),
    "web_config_tokens_noTLS.good.yml": ("bearer_auth_tokens:\n  - TokenTest12345\n", "bearer_auth_tokens"),
    "web_config_ip_socket.good.yml": ("ip_socket_config:\n  ipv4_ttl: 2\n  ipv6_hop_limit: 2\n  dscp: 46\n",
                                      "ip_socket_config"),
    "web_config_dscp_high.bad.yml": ("ip_socket_config:\n  dscp: 64\n", "ip_socket_config"),
    "web_config_dscp_neg.bad.yml": ("ip_socket_config:\n  dscp: -1\n", "ip_socket_config"),
    "web_config_ipv4_ttl_high.bad.yml": ("ip_socket_config:\n  ipv4_ttl: 256\n", "ip_socket_config"),
    "web_config_ipv4_ttl_zero.bad.yml": ("ip_socket_config:\n  ipv4_ttl: 0\n", "ip_socket_config"),
    "tls_config_noAuth.fingerprint.good.yml": (
        TLS + "  client_auth_type: RequireAnyClientCert\n  client_fingerprints:\n  - 92:CA:04:83:30:41:AE:6D:70:07:"
        "C3:3F:77:D7:1D:17:3E:00:7A:61:71:7D:39:A6:6F:02:67:10:50:CC:BA:37\n",
        "tls_server_config.client_fingerprints"),
    "tls_config_noAuth.fingerprint.bad.yml": (TLS + "  client_fingerprints: []\n",
                                              "tls_server_config.client_fingerprints"),
    "tls_config_noAuth.fingerprint_empty.good.yml": (TLS + "  client_auth_type: RequireAnyClientCert\n"
                                                     "  client_fingerprints: []\n",
                                                     "tls_server_config.client_fingerprints"),
    "web_config_auth_client_san_dns.good.yaml": (CLIENT_CA_IF_GIVEN + '  client_cert_allowed_san_dns: "test3"',
                                                 "tls_server_config.client_cert_allowed_san_dns"),
    "web_config_auth_client_san_dns.bad.yaml": (CLIENT_CA_IF_GIVEN + '  client_cert_allowed_san_dns: "bad"',
                                                "tls_server_config.client_cert_allowed_san_dns"),
    "web_config_auth_client_san_dns_regex.good.yaml": (CLIENT_CA_IF_GIVEN + "  client_cert_allowed_san_dns: "
                                                       "(test\\d|dns)\n",
                                                       "tls_server_config.client_cert_allowed_san_dns"),
    "web_config_auth_client_san_dns_regex.bad.yaml": (CLIENT_CA_IF_GIVEN + '  client_cert_allowed_san_dns: ".+test.+"',
                                                      "tls_server_config.client_cert_allowed_san_dns"),
    "web_config_auth_client_san_regex.good.yaml": (CLIENT_CA_IF_GIVEN + "  client_allowed_san_regex: (test\\d|dns)\n",
                                                   "tls_server_config.client_allowed_san_regex"),
    "web_config_auth_client_san_regex.bad.yaml": (CLIENT_CA_IF_GIVEN + '  client_allowed_san_regex: ".+test.+"\n',
                                                  "tls_server_config.client_allowed_san_regex"),
    "web_config_auth_client_common_name.good.yaml": (CLIENT_CA_IF_GIVEN + '  client_cert_allowed_cn: "test"',
                                                     "tls_server_config.client_cert_allowed_cn"),
    "web_config_auth_client_common_name.bad.yaml": (CLIENT_CA_IF_GIVEN + '  client_cert_allowed_cn: "bad"',
                                                    "tls_server_config.client_cert_allowed_cn"),
}


def _inline_key_text(certs: Path) -> str:
    key = (certs / "server.key").read_text().replace("\n", "\n    ")
    return (f"tls_server_config:\n  cert_file: server.pem\n  key: |\n    {key}\n"
            "  client_auth_type: RequireAnyClientCert\n")


@pytest.mark.parametrize("toolkit_file", sorted(EARLIER_NAMES))
def test_earlier_names_checked_at_start(certs, toolkit_file):
    """The toolkit's files under their earlier names (``key : value`` spacing and all) give the same verdicts
    as under their current names."""
    text, error = EARLIER_NAMES[toolkit_file]
    if text == "inline key":
        text = _inline_key_text(certs)
    path = write(certs, text, name=toolkit_file)
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert error in "\n".join(exc.value.problems), exc.value.problems
    assert all(p.startswith(f"{path}: ") for p in exc.value.problems), exc.value.problems


async def test_tls_config_noAuth_good_and_blocking(certs):  # noqa: N802
    """tls_config_noAuth.good.yml (a certificate if given, checked against the named CA) serves a client with or
    without one; tls_config_noAuth.good.blocking.yml refuses a client without one."""
    async with serve(write(certs, "tls_server_config :\n  cert_file : server.pem\n  key_file : server.key\n"
                                  "  client_auth_type : VerifyClientCertIfGiven\n  client_ca_file : ca.pem\n",
                           name="tls_config_noAuth.good.yml")) as port:
        assert await ok(port, client_context(certs, "client"))
        assert await ok(port, client_context(certs))
    async with serve(write(certs, "tls_server_config :\n  cert_file : server.pem\n  key_file : server.key\n"
                                  "  client_auth_type : RequireAndVerifyClientCert\n  client_ca_file: ca.pem",
                           name="tls_config_noAuth.good.blocking.yml")) as port:
        await fails(port, client_context(certs))
        assert await ok(port, client_context(certs, "client"))


async def test_tls_config_noAuth_allCurves_and_noHTTP2_good(certs):  # noqa: N802
    text = VERIFY_IF_GIVEN + "  curve_preferences:\n    - CurveP256\n    - CurveP384\n    - CurveP521\n    - X25519\n"
    async with serve(write(certs, text, name="tls_config_noAuth_allCurves.good.yml")) as port:
        assert await ok(port, client_context(certs))
    text = VERIFY_IF_GIVEN + ("  cipher_suites:\n    - TLS_RSA_WITH_AES_128_CBC_SHA\n  max_version: TLS12\n"
                              "http_server_config:\n  http2: false\n")
    async with serve(write(certs, text, name="tls_config_noAuth_noHTTP2.good.yml")) as port:
        status, _, _, cipher = await request(port, client_context(certs, ciphers="AES128-SHA:" + AES128))
        assert status == 200 and cipher[0] == "AES128-SHA"  # the one suite named, though the client offers more


@pytest.mark.parametrize("toolkit_file", sorted(PROPOSALS))
def test_proposal_keys_refused_as_unknown(certs, toolkit_file):
    text, key = PROPOSALS[toolkit_file]
    path = write(certs, text, name=toolkit_file)
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert f"{path}: {key}: unknown key" in "\n".join(exc.value.problems), exc.value.problems


def test_the_malformed_common_name_file_is_a_yaml_error(certs):
    """web_config.auth_client_common_name.good.yaml has a stray comma after a quoted scalar: YAML refuses it."""
    text = (TLS + '  client_auth_type: "RequireAndVerifyClientCert"\n  client_ca_file: "ca.pem",\n'
            '  client_cert_allowed_cn: "prometheus.example.com"\n')
    path = write(certs, text, name="web_config.auth_client_common_name.good.yaml")
    with pytest.raises(WebConfigError) as exc:
        validate(path)
    assert "invalid YAML" in "\n".join(exc.value.problems) and str(path) in exc.value.problems[0]


def test_every_yaml_file_in_the_toolkits_history_has_a_case():
    """Every YAML file the toolkit's repository has held in web/testdata (its history, as stored in 2026-12)."""
    history = {
        "tls_config_auth_user_list_invalid.bad.yml", "tls_config_noAuth.bad.yml",
        "tls_config_noAuth.fingerprint.bad.yml", "tls_config_noAuth.fingerprint.good.yml",
        "tls_config_noAuth.fingerprint_empty.good.yml", "tls_config_noAuth.good.blocking.yml",
        "tls_config_noAuth.good.yml", "tls_config_noAuth.requireandverifyclientcert.authexcludedpaths.good.yml",
        "tls_config_noAuth.requireandverifyclientcert.good.yml", "tls_config_noAuth.requireanyclientcert.good.yml",
        "tls_config_noAuth.requireanyclientcertkeyinline.good.yml", "tls_config_noAuth_allCurves.good.yml",
        "tls_config_noAuth_certPath_empty.bad.yml", "tls_config_noAuth_certPath_invalid.bad.yml",
        "tls_config_noAuth_inventedCurves.bad.yml", "tls_config_noAuth_keyPath_empty.bad.yml",
        "tls_config_noAuth_noHTTP2.good.yml", "tls_config_noAuth_someCurves.good.yml",
        "tls_config_noAuth_wrongTLSVersion.bad.yml", "web_config.auth_client_common_name.good.yaml",
        "web_config_auth_clientCAsText_nocerts.bad.yml", "web_config_auth_clientCAs_invalid.bad.yml",
        "web_config_auth_clientCAs_nocerts.bad.yml", "web_config_auth_client_common_name.bad.yaml",
        "web_config_auth_client_common_name.good.yaml", "web_config_auth_client_san.authexcludedpaths.bad.yaml",
        "web_config_auth_client_san.bad.yaml", "web_config_auth_client_san.good.yaml",
        "web_config_auth_client_san_dns.bad.yaml", "web_config_auth_client_san_dns.good.yaml",
        "web_config_auth_client_san_dns_regex.bad.yaml", "web_config_auth_client_san_dns_regex.good.yaml",
        "web_config_auth_client_san_no_client_auth.bad.yaml", "web_config_auth_client_san_optional_cert.bad.yaml",
        "web_config_auth_client_san_regex.bad.yaml", "web_config_auth_client_san_regex.good.yaml",
        "web_config_auth_excluded_paths.good.yml", "web_config_auth_user_list_invalid.bad.yml",
        "web_config_dscp_high.bad.yml", "web_config_dscp_neg.bad.yml", "web_config_headers.good.yml",
        "web_config_headers_content_type_options.bad.yml", "web_config_headers_extra_header.bad.yml",
        "web_config_headers_frame_options.bad.yml", "web_config_ip_socket.good.yml",
        "web_config_ipv4_ttl_high.bad.yml", "web_config_ipv4_ttl_zero.bad.yml", "web_config_junk_key.yml",
        "web_config_noAuth.bad.yml", "web_config_noAuth.good.blocking.yml", "web_config_noAuth.good.yml",
        "web_config_noAuth_allCiphers.good.yml", "web_config_noAuth_allCurves.good.yml",
        "web_config_noAuth_certPath_empty.bad.yml", "web_config_noAuth_certPath_invalid.bad.yml",
        "web_config_noAuth_certPath_keyPath_empty.bad.yml", "web_config_noAuth_certPath_keyPath_invalid.bad.yml",
        "web_config_noAuth_cert_empty.bad.yml", "web_config_noAuth_inventedCiphers.bad.yml",
        "web_config_noAuth_inventedCurves.bad.yml", "web_config_noAuth_keyPath_empty.bad.yml",
        "web_config_noAuth_keyPath_invalid.bad.yml", "web_config_noAuth_key_empty.bad.yml",
        "web_config_noAuth_noHTTP2.good.yml", "web_config_noAuth_noHTTP2Cipher.bad.yml",
        "web_config_noAuth_someCiphers.good.yml", "web_config_noAuth_someCiphers_noOrder.good.yml",
        "web_config_noAuth_someCurves.good.yml", "web_config_noAuth_tlsInline.good.yml",
        "web_config_rate_limiter_headers.yaml", "web_config_rate_limiter_nonblocking.yaml",
        "web_config_rate_limiter_one_second.yaml", "web_config_tokens.good.yml", "web_config_tokens_noTLS.good.yml",
        "web_config_users.authexcludedpaths.good.yml", "web_config_users.good.yml",
        "web_config_users_noTLS.authexcludedpaths.good.yml", "web_config_users_noTLS.good.yml",
        "web_config_users_noTLS_excludePath.good.yml", "web_config_empty.yml", "web_config_junk.yml"}
    cases = Path(__file__).read_text().split("def test_every_yaml_file_in_the_toolkits_history")[0]
    assert len(history) == 81
    assert [name for name in sorted(history) if f'"{name}"' not in cases] == []

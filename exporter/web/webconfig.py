"""``--web.config.file``: the web configuration of Prometheus' exporter-toolkit, read and validated.

The same file a user gives node_exporter is accepted here with the same meaning (keys, defaults, errors: see
docs/web-config.md, which follows the toolkit's own documentation). Where Python's ``ssl`` module cannot
do what Go's crypto/tls does, the value is refused with a message saying so, never silently replaced:

- ``client_auth_type: RequestClientCert`` / ``RequireAnyClientCert`` (alias ``RequireClientCert``): Go accepts a
  client certificate without verifying it; OpenSSL through Python always verifies a presented certificate.

Accepted as Go accepts them, with a warning (``WebConfig.warnings``, logged at start): client certificates
verified without a client CA (against the system's CAs, as Go does), a rate limit with ``burst: 0`` (every
request answered 429).
- ``curve_preferences`` restricted to fewer than Go's four curves: Python 3.11 cannot restrict the TLS 1.3 key
  exchange groups (``set_ecdh_curve`` sets one curve, for TLS 1.2 only). Listing all four is accepted (the
  order, a preference, is OpenSSL's).
- ``cipher_suites`` naming a suite this OpenSSL does not have (RC4, 3DES on a modern OpenSSL).
- ``http_server_config.http2``: aiohttp serves HTTP/1.1 only; ``true`` (the default) is accepted and HTTP/1.1 is
  announced by ALPN, which every HTTP/2 client falls back to.

Everything here is pure (file -> typed config, or WebConfigError naming the file and the key); the TLS contexts
are built by exporter.web.tls and the request checks run in exporter.web.security.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

from exporter.configfile import (  # one strict YAML reading for every file
    Checker,
    ConfigError,
    load_yaml,
    read_text,
    type_name,
)

TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
TLS_KEYS = ("cert_file", "key_file", "cert", "key", "client_ca_file", "client_ca", "client_auth_type",
            "client_allowed_sans", "min_version", "max_version", "cipher_suites", "prefer_server_cipher_suites",
            "curve_preferences")
HTTP_KEYS = ("http2", "headers")
# What Go's HTTP/2 server needs among the configured suites (golang.org/x/net/http2's ConfigureServer).
HTTP2_REQUIRED_CIPHERS = frozenset(("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
RATE_KEYS = ("interval", "burst")

CLIENT_AUTH_TYPES = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go accepts these without verifying the certificate; OpenSSL (Python's ssl) verifies whatever is presented.
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's curve names; the toolkit accepts exactly these.
CURVES = ("CurveP256", "CurveP384", "CurveP521", "X25519")

# The suites Go's tls.CipherSuites() and tls.InsecureCipherSuites() name, by IANA code point. The OpenSSL name
# of each is looked up in the running OpenSSL (ciphers() below): Go and OpenSSL spell them differently.
GO_CIPHERS = {
    "TLS_RSA_WITH_RC4_128_SHA": 0x0005,
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": 0x000A,
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
    "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
    "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
    "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": 0xC007,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": 0xC011,
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": 0xC012,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": 0xC023,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": 0xC027,
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
    # TLS 1.3: Go lists them but never lets them be configured; accepted and, as in Go, without effect.
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
}
TLS13_CODES = (0x1301, 0x1302, 0x1303)

# The only headers the toolkit lets a user set, with the values it allows (None: any).
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}

BCRYPT_RE = re.compile(rb"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$")
GO_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class WebConfigError(ConfigError):
    """The web config is invalid; ``problems`` holds one ``FILE: key: what`` line per problem."""


@dataclass(frozen=True)
class TLSServerConfig:
    base_dir: str
    source: str = ""  # the web config file, named in every problem with the material it points to
    cert_file: str = ""
    key_file: str = ""
    cert: str = ""
    key: str = ""
    client_ca_file: str = ""
    client_ca: str = ""
    verify_mode: ssl.VerifyMode = ssl.CERT_NONE
    client_allowed_sans: tuple[str, ...] = ()
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    cipher_suites: tuple[str, ...] = ()  # OpenSSL names, server order
    prefer_server_cipher_suites: bool = True

    def path(self, name: str) -> str:
        """A file named in the config, relative to the config file's directory (as the toolkit does)."""
        return name if os.path.isabs(name) else os.path.join(self.base_dir, name)

    def files(self) -> tuple[str, ...]:
        return tuple(self.path(f) for f in (self.cert_file, self.key_file, self.client_ca_file) if f)


@dataclass(frozen=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    headers: dict[str, str] = field(default_factory=dict)
    users: dict[bytes, bytes] = field(default_factory=dict)  # user (UTF-8) -> bcrypt hash
    rate_interval: float = 0.0  # seconds between requests; 0: no limit
    rate_burst: int = 0
    warnings: tuple[str, ...] = ()  # settings Go accepts with a weak outcome, said once in the log


def parse_go_duration(value: Any) -> float | None:
    """A Go duration (``500ms``, ``1h30m``, ``0``) or an integer of nanoseconds -> seconds; None if neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 1e9 if value >= 0 else None
    if not isinstance(value, str):
        return None
    if value == "0":
        return 0.0
    if not GO_DURATION_RE.match(value):
        return None
    return sum(float(n) * GO_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", value))


def openssl_ciphers() -> dict[int, str]:
    """IANA code point -> OpenSSL name, for every suite this OpenSSL can offer (TLS 1.2 and below)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}


def _strings(c: Checker, node: dict, key: str, path: str) -> list[str]:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.error(f"{path}.{key}", f"expected a list of strings, got {type_name(value)}")
        return []
    return value


def _text(c: Checker, node: dict, key: str, path: str) -> str:
    value = node.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        c.error(f"{path}.{key}", f"expected a string, got {type_name(value)}")
        return ""
    return value


def _path(base_dir: str, name: str) -> str:
    return name if os.path.isabs(name) else os.path.join(base_dir, name)


def _check_tls(c: Checker, node: Any, source: str, warnings: list[str]) -> TLSServerConfig | None:
    base_dir = os.path.dirname(os.path.abspath(source))
    path = "tls_server_config"
    node = c.mapping(node if node is not None else {}, path, TLS_KEYS)
    v = {k: _text(c, node, k, path) for k in ("cert_file", "key_file", "cert", "key", "client_ca_file",
                                               "client_ca", "client_auth_type", "min_version", "max_version")}
    sans = _strings(c, node, "client_allowed_sans", path)
    cipher_names = _strings(c, node, "cipher_suites", path)
    curves = _strings(c, node, "curve_preferences", path)
    prefer = c.boolean(node, "prefer_server_cipher_suites", path, True)
    # As in the toolkit: TLS is on when a certificate, key, client CA or client auth policy is given;
    # versions, ciphers or curves alone leave the server on plain HTTP.
    if not any(v[k] for k in ("cert_file", "key_file", "cert", "key", "client_ca_file", "client_ca",
                               "client_auth_type")):
        return None
    if not v["cert"] and not v["cert_file"]:
        c.error(path, "missing one of cert or cert_file")
    if not v["key"] and not v["key_file"]:
        c.error(path, "missing one of key or key_file")
    auth = v["client_auth_type"]
    if auth in UNVERIFIED_CLIENT_AUTH:
        c.error(f"{path}.client_auth_type",
                f"{auth} is not supported: Go accepts a client certificate without verifying it, Python's ssl "
                "always verifies one; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file")
        mode = ssl.CERT_REQUIRED
    elif auth not in CLIENT_AUTH_TYPES:
        c.error(f"{path}.client_auth_type", f"invalid ClientAuth: {auth}")
        mode = ssl.CERT_NONE
    else:
        mode = CLIENT_AUTH_TYPES[auth]
    if (v["client_ca_file"] or v["client_ca"]) and mode == ssl.CERT_NONE and auth not in UNVERIFIED_CLIENT_AUTH:
        if v["client_ca_file"] and not os.path.exists(_path(base_dir, v["client_ca_file"])):
            # Go opens the client CA file before it checks the policy: the same verdict on the same file
            # (with a policy, the TLS material check says it, exporter.web.tls).
            c.error(f"{path}.client_ca_file", f"open {v['client_ca_file']}: no such file or directory")
        else:
            c.error(path, "client CA's have been configured without a Client Auth Policy")
    if mode != ssl.CERT_NONE and auth not in UNVERIFIED_CLIENT_AUTH and not (v["client_ca_file"] or v["client_ca"]):
        # As Go does: client certificates are verified against the system's CAs. Accepted, with a warning: a
        # certificate any public CA signed passes, which is rarely what client authentication is meant for.
        warnings.append(f"{path}.client_auth_type: {auth} without client_ca_file or client_ca: client "
                        "certificates are verified against the system's CAs (as Go does), so any certificate a "
                        "public CA signed is accepted; name your own CA to restrict it")
    if sans and mode != ssl.CERT_REQUIRED:
        c.error(f"{path}.client_allowed_sans",
                "needs client_auth_type RequireAndVerifyClientCert (without a client certificate there is no "
                "SAN to match)")
    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = v[key] or default
        if name not in TLS_VERSIONS:
            c.error(f"{path}.{key}", f"unknown TLS version: {name}")
            name = default
        versions[key] = TLS_VERSIONS[name]
    if versions["min_version"] > versions["max_version"]:
        c.error(path, "min_version is above max_version: no TLS version would be left")
    available = openssl_ciphers() if cipher_names else {}
    ciphers = []
    for i, name in enumerate(cipher_names):
        code = GO_CIPHERS.get(name)
        if code is None:
            c.error(f"{path}.cipher_suites[{i}]", f"unknown cipher: {name}")
        elif code in TLS13_CODES:
            continue  # as in Go: TLS 1.3 suites are not configurable
        elif code not in available:
            c.error(f"{path}.cipher_suites[{i}]", f"{name} is not available in this Python's OpenSSL "
                                                  f"({ssl.OPENSSL_VERSION})")
        else:
            ciphers.append(available[code])
    for i, name in enumerate(curves):
        if name not in CURVES:
            c.error(f"{path}.curve_preferences[{i}]", f"unknown curve: {name}")
    if curves and all(n in CURVES for n in curves) and set(curves) != set(CURVES):
        c.error(f"{path}.curve_preferences",
                "restricting the curves is not supported: Python's ssl cannot limit the TLS 1.3 key exchange "
                f"groups; leave it out or list all of {', '.join(CURVES)}")
    return TLSServerConfig(
        base_dir=base_dir, source=source, cert_file=v["cert_file"], key_file=v["key_file"], cert=v["cert"],
        key=v["key"],
        client_ca_file=v["client_ca_file"], client_ca=v["client_ca"], verify_mode=mode,
        client_allowed_sans=tuple(sans), min_version=versions["min_version"], max_version=versions["max_version"],
        cipher_suites=tuple(ciphers), prefer_server_cipher_suites=prefer)


def _check_http(c: Checker, node: Any) -> dict[str, str]:
    path = "http_server_config"
    node = c.mapping(node if node is not None else {}, path, HTTP_KEYS)
    c.boolean(node, "http2", path, True)  # accepted; HTTP/1.1 is what aiohttp serves (module docstring)
    headers = node.get("headers") or {}
    if not isinstance(headers, dict):
        c.error(f"{path}.headers", f"expected a mapping, got {type_name(headers)}")
        return {}
    out = {}
    for name, value in headers.items():
        where = f"{path}.headers.{name}"
        if name not in HEADERS:
            c.error(where, f'HTTP header "{name}" can not be configured')
            continue
        if value is None or value == "":
            continue  # unset if blank
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)  # Go's YAML reads a scalar into a string field: X-XSS-Protection: 1
        if not isinstance(value, str):
            c.error(where, f"expected a string, got {type_name(value)}")
            continue
        allowed = HEADERS[name]
        if allowed is not None and value.lower() not in allowed:
            c.error(where, f"invalid value for {name}. Supported values are {', '.join(allowed)}, got {value!r}")
            continue
        out[name] = value
    return out


def _check_users(c: Checker, node: Any) -> dict[bytes, bytes]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        c.error("basic_auth_users", f"expected a mapping of user: bcrypt hash, got {type_name(node)}")
        return {}
    users = {}
    for user, hashed in node.items():
        where = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not isinstance(hashed, str):
            c.error(where, "expected a user name and a bcrypt hash as strings")
            continue
        raw = hashed.encode()
        if len(raw) < 59:
            c.error(where, "hashedSecret too short to be a bcrypted password")
        elif not BCRYPT_RE.match(raw):
            c.error(where, "not a bcrypt hash (expected $2a$, $2b$ or $2y$, a two-digit cost, 53 characters)")
        else:
            users[user.encode()] = raw
    return users


def _check_rate(c: Checker, node: Any, warnings: list[str]) -> tuple[float, int]:
    if node is None:
        return 0.0, 0
    node = c.mapping(node, "rate_limit", RATE_KEYS)
    interval = parse_go_duration(node.get("interval", 0))
    if interval is None:
        c.error("rate_limit.interval", f"expected a Go duration like 500ms or 1m (or 0 to disable), "
                                       f"got {node.get('interval')!r}")
        interval = 0.0
    burst = node.get("burst", 0)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 0:
        c.error("rate_limit.burst", f"expected an integer >= 0, got {burst!r}")
        burst = 0
    if interval > 0 and burst == 0:
        warnings.append("rate_limit.burst: 0 with an interval set: every request is answered 429 (as the toolkit "
                        "does); set burst to 1 or more to let requests through")
    return interval, burst


def parse_web_config(text: str, path: str) -> WebConfig:
    root = load_yaml(text, path, WebConfigError)
    if root is None:
        return WebConfig()  # an empty file: plain HTTP, as in the toolkit
    if not isinstance(root, dict):
        raise WebConfigError([f"{path}: expected a mapping at the top level, got {type_name(root)}"])
    c = Checker(path)
    for key in root:
        if key not in TOP_KEYS:
            c.error(str(key), f"unknown key (expected one of: {', '.join(TOP_KEYS)})")
    warnings: list[str] = []  # accepted as Go accepts them, with a weak outcome: logged once at start
    tls = _check_tls(c, root.get("tls_server_config"), path, warnings)
    headers = _check_http(c, root.get("http_server_config"))
    users = _check_users(c, root.get("basic_auth_users"))
    interval, burst = _check_rate(c, root.get("rate_limit"), warnings)
    http = root.get("http_server_config")
    http2 = http.get("http2", True) if isinstance(http, dict) else True
    ciphers = (root.get("tls_server_config") or {}).get("cipher_suites") if tls is not None else None
    if http2 is True and isinstance(ciphers, list) and ciphers and not set(ciphers) & HTTP2_REQUIRED_CIPHERS:
        # Go's net/http refuses to start HTTP/2 with such a list; this server has no HTTP/2, but the same file
        # gets the same verdict here as under node_exporter.
        c.error("tls_server_config.cipher_suites", "TLSConfig.CipherSuites is missing an HTTP/2-required "
                "AES_128_GCM_SHA256 cipher (need at least one of " + " or ".join(sorted(HTTP2_REQUIRED_CIPHERS))
                + "); add one, or set http_server_config.http2: false")
    if c.problems:
        raise WebConfigError(c.problems)
    return WebConfig(tls=tls, headers=headers, users=users, rate_interval=interval, rate_burst=burst,
                     warnings=tuple(f"{path}: {w}" for w in warnings))


def read_web_config(path: str) -> WebConfig:
    """Read and check the file's YAML (not the TLS material: exporter.web.tls loads that)."""
    return parse_web_config(read_text(path, WebConfigError), path)

"""What every device target has (``Target``), and the checks of those keys that each family's own check is
built on (``common_target_keys``, ``check_collectors``, ``check_name``, ``check_url``)."""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from exporter.configfile import Checker, not_utf8, type_name
from exporter.keys import Key, Keys, merged, names

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")  # a target's (and a profile's) name

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 10.0
# A LAN or WAN device completes a TCP and TLS handshake in well under a second; 3 s still allows one SYN sent
# again (Linux resends at 1 s). A lost site's handshake is never answered: it is told apart from a slow answer
# (reason connect_timeout) after this long instead of the whole timeout.
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # 100k registrations are ~44 MB of XML
MIN_INTERVAL = 1.0  # a poll per millisecond is a typo, and an attack on the device
MIN_TIMEOUT = 0.1
DEFAULT_MAX_SERIES = 200_000  # per target; a 20-trunk SBC has ~1,500 (docs/operations.md: series per SBC)

# The keys of `defaults:`, which every target has too (a target's own value wins).
DEFAULTS_KEYS: Keys = (
    Key("interval", "duration", "30s", "Time between two poll rounds of a target, at least 1s. The first round "
        "runs at start-up, the next ones on a fixed period, at a phase spread by target name (a few targets "
        "polled in step, never the whole fleet at once)."),
    Key("timeout", "duration", "10s", "Per HTTP request, at least 100ms and at most the interval. A device that "
        "has answered nothing this round is not asked again before the next round."),
    Key("connect_timeout", "duration", "3s", "Of the timeout, the time to get a connection (TCP and TLS "
        "handshakes): a lost site's devices are reported down with reason `connect_timeout` after this long. "
        "At most the timeout (a shorter timeout shortens it)."),
    Key("max_response_bytes", "integer (bytes)", "67108864", "The largest answer read (64 MiB; 100,000 "
        "registrations are about 44 MB of XML); compressed answers count as decompressed. A larger one fails "
        "its table with reason `too_large`."),
    Key("max_series", "integer", "200000", "Device series per target: a table whose answer would take the "
        "target over fails with reason `series_limit` (its series dropped) instead of flooding Prometheus. A "
        "20-trunk SBC has about 1,500."),
)
DEFAULT_KEYS = names(DEFAULTS_KEYS)  # what `defaults:` may set

# The keys every target has, whatever its family; a family adds its own (``Family.target_keys``).
TARGET_KEYS: Keys = (
    Key("name", "string", "", "The `target` label and the `/probe?target=` name: letters, digits and `_.:-`, "
        "at most 63; unique over every family.", required=True),
    Key("url", "URL", "", "The device's base URL (`https://HOST:PORT`; `http://` for tests and proxies). No "
        "credentials in it.", required=True),
    Key("username", "string", "", "The account the exporter logs in with.", required=True),
    Key("password", "string", "", "The password, inline; `${ENV_VAR}` expands. Exactly one of `password` and "
        "`password_file` is required."),
    Key("password_file", "path", "", "A file whose first line is the password (relative to the configuration "
        "file; `${ENV_VAR}` expands). Re-read at each reload."),
    Key("tls", "mapping", "", "How the device's certificate is checked: `ca_file` (a PEM CA bundle to verify "
        "it with; default: the system's) and `insecure_skip_verify` (default false; true only for a "
        "self-signed device you cannot give a CA for)."),
    Key("collectors", "list of strings", "all of the family's", "The tables or APIs polled, in this order; "
        "each is listed below with its family."),
    *DEFAULTS_KEYS,
)
TLS_KEYS: Keys = (
    Key("ca_file", "path", "", "A PEM CA bundle the device's certificate must chain to (default: the system's)."),
    Key("insecure_skip_verify", "boolean", "false", "Do not verify the device's certificate."),
)


def target_keys(own: Keys = ()) -> Keys:
    """Every key of a family's target entries: the common ones, then the family's own."""
    return merged(TARGET_KEYS, own)


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class Target:
    """What every device target has; the family classes add their own keys."""

    name: str
    url: str
    username: str
    password: str = field(repr=False)
    tls: TLSConfig = TLSConfig()
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT  # at most timeout (applied as the smaller of the two)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_series: int = DEFAULT_MAX_SERIES
    profile: str = ""  # the named profile it takes its shared settings from ("" for none)
    labels: tuple[tuple[str, str], ...] = ()  # the operator's own labels (site, region...), sorted by name

    def __post_init__(self) -> None:
        if self.connect_timeout > self.timeout:  # the default is an upper bound: a shorter timeout shortens it
            object.__setattr__(self, "connect_timeout", self.timeout)

    def urls(self) -> tuple[str, ...]:
        """Every URL the exporter may call for this target (the TLS settings apply to all of them)."""
        return (self.url,)

    def discovery_labels(self) -> dict[str, str]:
        """What a family adds to the target's labels in service discovery (``/sd``), as ``name: value``."""
        return {}


def check_url(c: Checker, url: str | None, path: str) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        c.error(path, f"expected an http:// or https:// URL with a host, got {url!r}")
        return None
    if parts.username or parts.password:
        # Credentials in URLs end up in logs and error messages: refuse them outright.
        c.error(path, "credentials in the URL are not allowed; use username and password_file")
        return None
    if parts.query or parts.fragment:
        c.error(path, "expected a base URL without query or fragment")
        return None
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        c.error(path, f"invalid port in {url!r}")
        return None
    return url.rstrip("/")


def _read_password(c: Checker, node: dict, path: str, base_dir: str) -> str | None:
    has_inline, has_file = "password" in node, "password_file" in node
    if has_inline == has_file:
        c.error(path, "exactly one of password or password_file is required")
        return None
    if has_inline:
        raw = c.string(node, "password", path)
        return c.expand_env(raw, f"{path}.password") if raw is not None else None
    raw = c.string(node, "password_file", path)
    if raw is None:
        return None
    file = os.path.join(base_dir, c.expand_env(raw, f"{path}.password_file"))
    cached = c.files.get(("password", file))
    if cached is None:
        cached = c.files[("password", file)] = _password_file(file)
    secret, problem = cached
    if problem is not None:
        c.error(f"{path}.password_file", problem)
    return secret


def _password_file(file: str) -> tuple[str | None, str | None]:
    """(the secret, None) or (None, the problem)."""
    try:
        with open(file, "rb") as fh:
            secret = fh.read().decode("utf-8").rstrip("\r\n")
    except OSError as exc:
        return None, f"cannot read {file}: {exc.strerror}"
    except UnicodeDecodeError as exc:
        return None, f"{file}: {not_utf8(exc)}"
    return (secret, None) if secret else (None, f"{file} is empty")


def _check_tls(c: Checker, node: Any, path: str, base_dir: str) -> TLSConfig:
    if node is None:
        return TLSConfig()
    node = c.mapping(node, path, names(TLS_KEYS))
    ca_file = c.string(node, "ca_file", path)
    if ca_file is not None:
        ca_file = os.path.join(base_dir, ca_file)
        cached = c.files.get(("ca", ca_file))
        if cached is None:
            cached = c.files[("ca", ca_file)] = (None, _ca_problem(ca_file))
        if cached[1] is not None:
            c.error(f"{path}.ca_file", cached[1])
    return TLSConfig(ca_file, c.boolean(node, "insecure_skip_verify", path, False))


def _ca_problem(ca_file: str) -> str | None:
    if not os.path.isfile(ca_file):
        return f"file not found: {ca_file}"
    # Loaded now, as the pollers will: a DER file or a broken certificate is a config error, not a crash of
    # every poll round later.
    try:
        ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, ValueError) as exc:
        return f"cannot load CA certificates from {ca_file}: {getattr(exc, 'reason', None) or exc} (expected PEM)"
    except OSError as exc:
        return f"cannot read {ca_file}: {exc.strerror}"
    return None


def check_collectors(c: Checker, node: dict, path: str, known: tuple[str, ...],
                      default: tuple[str, ...] | None = None) -> tuple[str, ...]:
    default = default or known
    if "collectors" not in node:
        return default
    value = node["collectors"]
    if not isinstance(value, list) or not value:
        c.error(f"{path}.collectors", f"expected a non-empty list, got {type_name(value)}")
        return default
    seen: list[str] = []
    for i, name in enumerate(value):
        if name not in known:
            c.error(f"{path}.collectors[{i}]", f"unknown collector {name!r} (expected one of: {', '.join(known)})")
        elif name in seen:
            c.error(f"{path}.collectors[{i}]", f"collector {name!r} listed twice")
        else:
            seen.append(name)
    return tuple(seen) or default


def check_name(c: Checker, node: dict, key: str, path: str) -> str | None:
    value = c.string(node, key, path)
    if value is not None and not NAME_RE.match(value):
        c.error(f"{path}.{key}", f"expected letters, digits and _.:- (at most 63), got {value!r}")
        return None
    return value


def common_target_keys(c: Checker, node: dict, path: str, defaults: dict, base_dir: str) -> dict:
    """The keys every target has (``Target``'s), checked; a family's check adds its own."""
    name = check_name(c, node, "name", path)
    interval = c.duration(node, "interval", path, defaults["interval"], MIN_INTERVAL)
    timeout = c.duration(node, "timeout", path, defaults["timeout"], MIN_TIMEOUT)
    if timeout > interval:
        c.error(f"{path}.timeout", f"timeout ({timeout:g}s) must not exceed interval ({interval:g}s)")
    connect_timeout = c.duration(node, "connect_timeout", path, defaults["connect_timeout"], MIN_TIMEOUT)
    if connect_timeout > timeout:
        if "connect_timeout" in node:
            c.error(f"{path}.connect_timeout", f"connect_timeout ({connect_timeout:g}s) must not exceed timeout "
                    f"({timeout:g}s)")
    return dict(
        name=name or "",
        url=check_url(c, c.string(node, "url", path), f"{path}.url") or "",
        username=c.string(node, "username", path) or "",
        password=_read_password(c, node, path, base_dir) or "",
        tls=_check_tls(c, node.get("tls"), f"{path}.tls", base_dir),
        interval=interval,
        timeout=timeout,
        connect_timeout=connect_timeout,
        max_response_bytes=c.positive_int(node, "max_response_bytes", path, defaults["max_response_bytes"]),
        max_series=c.positive_int(node, "max_series", path, defaults["max_series"]),
    )

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
DEFAULT_MAX_SERIES = 200_000  # per target; a 20-trunk SBC has ~1,500 (README: series per SBC)
# What `defaults:` may set.
DEFAULT_KEYS = ("interval", "timeout", "connect_timeout", "max_response_bytes", "max_series")


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
    node = c.mapping(node, path, ("ca_file", "insecure_skip_verify"))
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

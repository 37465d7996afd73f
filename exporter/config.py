"""Typed configuration and its strict validation.

Every problem is reported, not only the first, each as ``FILE: KEY.PATH: what is wrong``, so an operator
fixes a config in one round trip. Unknown keys are errors: a typo (``pasword_file``) must never silently
fall back to a default.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import yaml

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # 100k registrations are ~44 MB of XML
DEFAULT_MAX_IN_FLIGHT_BYTES = 128 * 1024 * 1024  # answer bytes held at once, all targets together
DEFAULT_MAX_CONCURRENT_TARGETS = 16
MIN_INTERVAL = 1.0  # a poll per millisecond is a typo, and an attack on the device
MIN_TIMEOUT = 0.1
DEFAULT_MAX_SERIES = 200_000  # per target; a 20-trunk SBC has ~1,500 (README: series per SBC)


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_series: int = DEFAULT_MAX_SERIES
    profile: str = ""  # the named profile it takes its shared settings from ("" for none)
    labels: tuple[tuple[str, str], ...] = ()  # the operator's own labels (site, region...), sorted by name

    def urls(self) -> tuple[str, ...]:
        """Every URL the exporter may call for this target (the TLS settings apply to all of them)."""
        return (self.url,)

    def discovery_labels(self) -> dict[str, str]:
        """What a family adds to the target's labels in service discovery (``/sd``), as ``name: value``."""
        return {}


DEFAULT_INVENTORY_REFRESH = 5.0


@dataclass(frozen=True)
class Config:
    path: str
    max_concurrent_targets: int = DEFAULT_MAX_CONCURRENT_TARGETS
    max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES
    targets: tuple[Target, ...] = ()  # every family's, in the order of the file (family by family)
    # What an inventory file's targets are checked against (exporter.inventory), as the file defines them.
    profiles: dict = field(default_factory=dict, compare=False)
    defaults: dict = field(default_factory=dict, compare=False)
    base_dir: str = field(default="", compare=False)
    inventory_files: tuple[str, ...] = ()  # file_sd-shaped target files or globs (absolute)
    inventory_refresh: float = DEFAULT_INVENTORY_REFRESH  # how often they are checked for a change

    def of_family(self, family: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.family == family)

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)

    def shard(self, index: int, total: int) -> Config:
        """Only the targets of shard ``index`` of ``total``, as Prometheus' ``hashmod`` splits them."""
        return replace(self, targets=tuple(t for t in self.targets if hashmod(t.name, total) == index))


def hashmod(value: str, modulus: int) -> int:
    """Prometheus' relabel ``hashmod``: the last 8 bytes of the MD5, big-endian, modulo ``modulus``."""
    digest = hashlib.md5(value.encode()).digest()  # noqa: S324 - not for security: Prometheus' own choice
    return int.from_bytes(digest[8:], "big") % modulus


def parse_duration(text: str) -> float | None:
    """``1h2m3s``, ``15s``, ``500ms`` -> seconds; None when it is not a positive duration."""
    m = DURATION_RE.match(text) if isinstance(text, str) else None
    if not m or not text:
        return None
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s + ms / 1000
    return seconds if seconds > 0 else None


def _show_duration(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__
    )


class Checker:
    """Collects problems while walking the YAML tree."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[str] = []
        self._from_profile: tuple[str, str, frozenset[str]] | None = None  # (target path, profile path, keys)
        # Files many targets name (a profile's password_file or CA), read once per load: 10,000 targets of an
        # inventory would otherwise read one file 10,000 times and build as many TLS contexts (seconds).
        self.files: dict[tuple[str, str], tuple[str | None, str | None]] = {}  # (kind, path) -> (value, error)

    def error(self, path: str, message: str) -> None:
        if self._from_profile is not None:
            target, profile, keys = self._from_profile
            if path.startswith(target + "."):
                key = re.split(r"[.\[]", path[len(target) + 1:], maxsplit=1)[0]
                if key in keys:  # a value the target took from its profile: the problem is the profile's
                    path = profile + path[len(target):]
        problem = f"{self.file}: {path}: {message}"
        if problem not in self.problems:  # a profile's problem once, not once per target using it
            self.problems.append(problem)

    @contextlib.contextmanager
    def profile_keys(self, target_path: str, profile_path: str, keys: frozenset[str]):
        """While checking a target merged with its profile, a problem in a key the profile gave is reported
        at the profile (``profiles.NAME.key``)."""
        self._from_profile = (target_path, profile_path, keys)
        try:
            yield
        finally:
            self._from_profile = None

    def mapping(self, node: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(node, dict):
            self.error(path, f"expected a mapping, got {type_name(node)}")
            return {}
        for key in node:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown key (expected one of: {', '.join(allowed)})")
        for key in required:
            if key not in node:
                self.error(f"{path}.{key}", "missing required key")
        return node

    def string(self, node: dict, key: str, path: str, default: str | None = None) -> str | None:
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, str):
            self.error(f"{path}.{key}", f"expected a non-empty string, got {type_name(value)}")
            return default
        if not value.strip():
            self.error(f"{path}.{key}", "must not be empty")
            return default
        return value

    def boolean(self, node: dict, key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected true or false, got {type_name(value)}")
            return default
        return value

    def positive_int(self, node: dict, key: str, path: str, default: int) -> int:
        value = node.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.error(f"{path}.{key}", f"expected a positive integer, got {value!r}")
            return default
        return value

    def duration(self, node: dict, key: str, path: str, default: float, minimum: float = 0.0) -> float:
        if key not in node:
            return default
        value = node[key]
        if isinstance(value, str) and DURATION_RE.match(value) and value and parse_duration(value) is None:
            self.error(f"{path}.{key}", f"must be longer than zero, got {value!r}")
            return default
        seconds = parse_duration(value) if isinstance(value, str) else None
        if seconds is None:
            self.error(f"{path}.{key}", f"expected a duration like 15s, 2m or 500ms, got {value!r}")
            return default
        if seconds < minimum:
            self.error(f"{path}.{key}", f"must be at least {_show_duration(minimum)}, got {value!r}")
            return default
        return seconds

    def choice(self, node: dict, key: str, path: str, choices: tuple[str, ...], default: str) -> str:
        value = node.get(key, default)
        if value not in choices:
            self.error(f"{path}.{key}", f"expected one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def expand_env(self, value: str, path: str) -> str:
        def repl(m: re.Match) -> str:
            name = m.group(1)
            if name not in os.environ:
                self.error(path, f"environment variable {name} is not set")
                return ""
            return os.environ[name]

        return ENV_RE.sub(repl, value)


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
        return None, f"{file}: {_not_utf8(exc)}"
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
    """The keys every target has (config.Target's), checked; a family's check adds its own."""
    name = check_name(c, node, "name", path)
    interval = c.duration(node, "interval", path, defaults["interval"], MIN_INTERVAL)
    timeout = c.duration(node, "timeout", path, defaults["timeout"], MIN_TIMEOUT)
    if timeout > interval:
        c.error(f"{path}.timeout", f"timeout ({timeout:g}s) must not exceed interval ({interval:g}s)")
    return dict(
        name=name or "",
        url=check_url(c, c.string(node, "url", path), f"{path}.url") or "",
        username=c.string(node, "username", path) or "",
        password=_read_password(c, node, path, base_dir) or "",
        tls=_check_tls(c, node.get("tls"), f"{path}.tls", base_dir),
        interval=interval,
        timeout=timeout,
        max_response_bytes=c.positive_int(node, "max_response_bytes", path, defaults["max_response_bytes"]),
        max_series=c.positive_int(node, "max_series", path, defaults["max_series"]),
    )


DEFAULT_KEYS = ("interval", "timeout", "max_response_bytes", "max_series")
TARGET_KEYS = ("name", "url", "username", "password", "password_file", "tls", "collectors", "interval", "timeout",
               "max_response_bytes", "max_series")  # every target's keys; a family's check adds its own


LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # Prometheus' label names
RESERVED_LABELS = ("target", "family", "profile", "job", "instance")  # the exporter's or Prometheus' own
PROFILE_ONLY = ("name", "url", "profile")  # a target's own: never shared through a profile


@dataclass(frozen=True)
class Profile:
    """Settings targets of one family share: any target key but name and url, and labels."""

    name: str
    family: str
    keys: dict  # the target keys it gives, unchecked until merged into a target


def check_labels(c: Checker, node: Any, path: str) -> dict[str, str]:
    """The operator's labels: names as Prometheus accepts them (not ``__`` nor the exporter's own), values
    scalars read as strings (as Go's YAML reads a scalar into a string field)."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        c.error(path, f"expected a mapping of label names to values, got {type_name(node)}")
        return {}
    out = {}
    for name, value in node.items():
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name) or name.startswith("__"):
            c.error(f"{path}.{name}", "invalid label name (letters, digits and _, not starting with a digit "
                    "or with __)")
        elif name in RESERVED_LABELS:
            c.error(f"{path}.{name}", f"reserved label name (the exporter's or Prometheus' own: "
                    f"{', '.join(RESERVED_LABELS)})")
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[name] = str(value)
        else:
            c.error(f"{path}.{name}", f"expected a string, got {type_name(value)}")
    return out


def check_profiles(c: Checker, node: Any, families) -> dict[str, Profile]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        c.error("profiles", f"expected a mapping of profile names to settings, got {type_name(node)}")
        return {}
    out = {}
    for name, body in node.items():
        path = f"profiles.{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            c.error(path, "invalid profile name (letters, digits and _.:-, at most 63)")
            continue
        if not isinstance(body, dict):
            c.error(path, f"expected a mapping, got {type_name(body)}")
            continue
        family = body.get("family")
        if family not in families:
            c.error(f"{path}.family", f"expected one of {', '.join(families)}, got {family!r}"
                    if "family" in body else f"missing required key (one of: {', '.join(families)})")
            continue
        for key in PROFILE_ONLY:
            if key in body:
                c.error(f"{path}.{key}", "a target's own key: not shared through a profile")
        out[name] = Profile(name, family, {k: v for k, v in body.items() if k not in ("family", *PROFILE_ONLY)})
    return out


def check_target_entry(c: Checker, node: Any, path: str, family, profiles: dict[str, Profile], defaults: dict,
                       base_dir: str):
    """One target entry: merged under its profile if it names one (its own keys win; labels merge), checked
    by its family, then given its profile name and labels."""
    if not isinstance(node, dict):
        return family.check_target(c, node, path, defaults, base_dir)
    node = dict(node)
    profile = None
    profile_name = node.pop("profile", None)
    if profile_name is not None:
        profile = profiles.get(profile_name) if isinstance(profile_name, str) else None
        if profile is None:
            c.error(f"{path}.profile", f"unknown profile {profile_name!r}"
                    + (f" (defined: {', '.join(sorted(profiles))})" if profiles else " (no profiles are defined)"))
            return None
        if profile.family != family.name:
            c.error(f"{path}.profile", f"profile {profile.name!r} is for {profile.family}, not {family.name}")
            return None
    shared = dict(profile.keys) if profile else {}
    labels = check_labels(c, shared.pop("labels", None), f"profiles.{profile_name}.labels") if profile else {}
    labels.update(check_labels(c, node.pop("labels", None), f"{path}.labels"))
    if profile is None:
        target = family.check_target(c, node, path, defaults, base_dir)
    else:
        given = frozenset(k for k in shared if k not in node)
        with c.profile_keys(path, f"profiles.{profile.name}", given):
            target = family.check_target(c, {**shared, **node}, path, defaults, base_dir)
    if target is None:
        return None
    return replace(target, profile=profile.name if profile else "", labels=tuple(sorted(labels.items())))


def _check_list(c: Checker, root: dict, key: str, item: Callable[[Any, str], Any]) -> list:
    value = root.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        c.error(key, f"expected a list, got {type_name(value)}")
        return []
    return [item(node, f"{key}[{i}]") for i, node in enumerate(value)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML's last-one-wins hides typos)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_text(path: str, error: type[ConfigError] = ConfigError) -> str:
    """A configuration file's text (UTF-8, decoded whole: an error's offset is the file's), or ``error``
    naming the file."""
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8")
    except OSError as exc:
        raise error([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise error([f"{path}: {_not_utf8(exc)}"]) from None


def load_yaml(text: str, path: str, error: type[ConfigError] = ConfigError) -> Any:
    """Strict YAML (a key given twice is an error), or ``error`` naming the file, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error([f"{path}: {where}invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None


def load_config(path: str) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem."""
    return parse_config(read_text(path), path)


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"


def parse_config(text: str, path: str = "<config>") -> Config:
    root = load_yaml(text, path)
    c = Checker(path)
    if root is None:
        root = {}
    if not isinstance(root, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level, got {type_name(root)}"])
    from exporter.registry import FAMILIES as families  # the registry imports this module's Target

    top_keys = ("global", "defaults", "profiles", "inventory", *families)
    for key in root:
        if key not in top_keys:
            c.error(key, f"unknown key (expected one of: {', '.join(top_keys)})")
    base_dir = os.path.dirname(os.path.abspath(path)) if path != "<config>" else os.getcwd()

    glob = c.mapping(root.get("global") or {}, "global", ("max_concurrent_targets", "max_in_flight_bytes"))
    max_concurrent = c.positive_int(glob, "max_concurrent_targets", "global", DEFAULT_MAX_CONCURRENT_TARGETS)
    max_in_flight = c.positive_int(glob, "max_in_flight_bytes", "global", DEFAULT_MAX_IN_FLIGHT_BYTES)

    d = c.mapping(root.get("defaults") or {}, "defaults", DEFAULT_KEYS)
    defaults = {
        "interval": c.duration(d, "interval", "defaults", DEFAULT_INTERVAL, MIN_INTERVAL),
        "timeout": c.duration(d, "timeout", "defaults", DEFAULT_TIMEOUT, MIN_TIMEOUT),
        "max_response_bytes": c.positive_int(d, "max_response_bytes", "defaults", DEFAULT_MAX_RESPONSE_BYTES),
        "max_series": c.positive_int(d, "max_series", "defaults", DEFAULT_MAX_SERIES),
    }
    profiles = check_profiles(c, root.get("profiles"), families)
    inv = c.mapping(root.get("inventory") or {}, "inventory", ("files", "refresh_interval"))
    inventory_files: list[str] = []
    files = inv.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and f.strip() for f in files):
        c.error("inventory.files", f"expected a list of file names or globs, got {type_name(files)}")
    else:
        inventory_files = [os.path.join(base_dir, f) for f in files]
    refresh = c.duration(inv, "refresh_interval", "inventory", DEFAULT_INVENTORY_REFRESH, 1.0)
    targets: list = []
    keys: list[tuple[str, int]] = []  # where each target was written, for a duplicate's message
    for family in families.values():
        found = _check_list(c, root, family.name,
                            lambda n, p, f=family: check_target_entry(c, n, p, f, profiles, defaults, base_dir))
        targets += found
        keys += [(family.name, i) for i in range(len(found))]

    # Names are the `target` label and the /probe name: unique across every device family.
    seen: dict[str, str] = {}
    for (key, i), t in zip(keys, targets, strict=True):
        if t is None or not t.name:
            continue
        if t.name in seen:
            c.error(f"{key}[{i}].name", f"duplicate target name {t.name!r} (also {seen[t.name]})")
        else:
            seen[t.name] = f"{key}[{i}]"
    if c.problems:
        raise ConfigError(c.problems)
    return Config(path=path, max_concurrent_targets=max_concurrent, max_in_flight_bytes=max_in_flight,
                  targets=tuple(targets), profiles=profiles, defaults=defaults, base_dir=base_dir,
                  inventory_files=tuple(inventory_files), inventory_refresh=refresh)

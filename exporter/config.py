"""The exporter's configuration: its typed record (``Config``) and the check of a whole file: global settings,
defaults, named profiles, the inventory files, and each device family's list of targets, checked by the
family its top-level key names (``exporter.registry``).

Every problem is reported at once, as ``FILE: KEY.PATH: what is wrong`` (``exporter.configfile``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from exporter.configfile import Checker, ConfigError, load_yaml, read_text, type_name
from exporter.devicefamily import Family
from exporter.keys import Key, Keys, names
from exporter.registry import FAMILIES
from exporter.target import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_INTERVAL,
    DEFAULT_KEYS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_SERIES,
    DEFAULT_TIMEOUT,
    MIN_INTERVAL,
    MIN_TIMEOUT,
    NAME_RE,
    Target,
)

DEFAULT_MAX_IN_FLIGHT_BYTES = 128 * 1024 * 1024  # answer bytes held at once, all targets together
DEFAULT_MAX_CONCURRENT_TARGETS = 16
DEFAULT_INVENTORY_REFRESH = 5.0

RESERVED_LABELS = ("target", "family", "profile", "job", "instance")  # the exporter's or Prometheus' own

# The file's sections other than the families' lists (one per registered family, its name as the key).
SECTIONS: Keys = (
    Key("global", "mapping", "", "Settings of the whole process (below)."),
    Key("defaults", "mapping", "", "Defaults of every target's `interval`, `timeout`, `connect_timeout`, "
        "`max_response_bytes` and `max_series`; a target's own value wins."),
    Key("profiles", "mapping of names to settings", "", "Settings targets share, written once; a target (or an "
        "inventory group) names one with `profile:`."),
    Key("inventory", "mapping", "", "Targets from files in Prometheus' file_sd shape, re-read when they change."),
)
GLOBAL_KEYS: Keys = (
    Key("max_concurrent_targets", "integer", str(DEFAULT_MAX_CONCURRENT_TARGETS), "How many answers the exporter "
        "takes in at once, over all targets. A request takes a slot before it is sent and gives it back if the "
        "device has not started to answer within 250ms; an answer that has started is read with one until it "
        "is handed to its parser. Waiting for a device that does not answer holds none past that, and a device "
        "whose last round had no answer waits without one; targets that answered last round go first, and a "
        "quarter of the slots is kept for them. Requests to one device are always sequential. 16 read 1,000 "
        "SBCs x 7 tables every 30s with room to spare."),
    Key("max_in_flight_bytes", "integer (bytes)", str(DEFAULT_MAX_IN_FLIGHT_BYTES), "Answer bytes held in memory "
        "at once, over all targets (128 MiB): an answer holds its bytes from the first one read until it is "
        "parsed. When full, a poll that holds nothing waits; one part-way through is dropped with reason "
        "`memory_budget`. This bounds the whole process, whatever the devices send."),
)
INVENTORY_KEYS: Keys = (
    Key("files", "list of paths or globs", "", "Inventory files (relative to the configuration file): lists of "
        "groups `{targets: [NAME=ADDRESS, ...], labels: {profile: P, ...}}`; every group names a profile (its "
        "family, credentials and settings: an inventory holds no secret)."),
    Key("refresh_interval", "duration", "5s", "How often the files are checked for a change (at least 1s)."),
)
# A target entry's keys the loader takes before its family checks the rest.
ENTRY_KEYS: Keys = (
    Key("profile", "string", "", "The profile whose settings it takes; its own keys win."),
    Key("labels", "mapping of label names to strings", "", "The operator's own labels (site, region...): on "
        "`vsxi_xivo_target_info` and in `/sd`, never on device series; merged with the profile's (the target's "
        "win). Not: " + ", ".join(RESERVED_LABELS) + "."),
)
# A profile's own key; the rest are target keys of its family, but a target's own ones (PROFILE_ONLY).
PROFILE_KEYS: Keys = (
    Key("family", "string", "", "Which device family it is for (a top-level key below).", required=True),
)


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
    # The device families its targets were checked against (its top-level keys), by name: what the engine
    # polls each target with (family.poller), so that the engine itself names no family, nor the registry.
    families: dict[str, Family] = field(default_factory=lambda: FAMILIES, compare=False, repr=False)

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


LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # Prometheus' label names
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


def check_profiles(c: Checker, node: Any) -> dict[str, Profile]:
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
        if family not in FAMILIES:
            c.error(f"{path}.family", f"expected one of {', '.join(FAMILIES)}, got {family!r}"
                    if "family" in body else f"missing required key (one of: {', '.join(FAMILIES)})")
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


def load_config(path: str) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem."""
    return parse_config(read_text(path), path)


def parse_config(text: str, path: str = "<config>") -> Config:
    root = load_yaml(text, path)
    c = Checker(path)
    if root is None:
        root = {}
    if not isinstance(root, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level, got {type_name(root)}"])
    top_keys = (*names(SECTIONS), *FAMILIES)
    for key in root:
        if key not in top_keys:
            c.error(key, f"unknown key (expected one of: {', '.join(top_keys)})")
    base_dir = os.path.dirname(os.path.abspath(path)) if path != "<config>" else os.getcwd()

    glob = c.mapping(root.get("global") or {}, "global", names(GLOBAL_KEYS))
    max_concurrent = c.positive_int(glob, "max_concurrent_targets", "global", DEFAULT_MAX_CONCURRENT_TARGETS)
    max_in_flight = c.positive_int(glob, "max_in_flight_bytes", "global", DEFAULT_MAX_IN_FLIGHT_BYTES)

    d = c.mapping(root.get("defaults") or {}, "defaults", DEFAULT_KEYS)
    defaults = {
        "interval": c.duration(d, "interval", "defaults", DEFAULT_INTERVAL, MIN_INTERVAL),
        "timeout": c.duration(d, "timeout", "defaults", DEFAULT_TIMEOUT, MIN_TIMEOUT),
        "connect_timeout": c.duration(d, "connect_timeout", "defaults", DEFAULT_CONNECT_TIMEOUT, MIN_TIMEOUT),
        "max_response_bytes": c.positive_int(d, "max_response_bytes", "defaults", DEFAULT_MAX_RESPONSE_BYTES),
        "max_series": c.positive_int(d, "max_series", "defaults", DEFAULT_MAX_SERIES),
    }
    if "connect_timeout" in d and defaults["connect_timeout"] > defaults["timeout"]:
        c.error("defaults.connect_timeout", f"connect_timeout ({defaults['connect_timeout']:g}s) must not exceed "
                f"timeout ({defaults['timeout']:g}s)")
    profiles = check_profiles(c, root.get("profiles"))
    inv = c.mapping(root.get("inventory") or {}, "inventory", names(INVENTORY_KEYS))
    inventory_files: list[str] = []
    files = inv.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and f.strip() for f in files):
        c.error("inventory.files", f"expected a list of file names or globs, got {type_name(files)}")
    else:
        inventory_files = [os.path.join(base_dir, f) for f in files]
    refresh = c.duration(inv, "refresh_interval", "inventory", DEFAULT_INVENTORY_REFRESH, 1.0)
    targets: list = []
    keys: list[tuple[str, int]] = []  # where each target was written, for a duplicate's message
    for family in FAMILIES.values():
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

"""Targets from inventory files: Prometheus' ``file_sd`` shape, re-read when they change.

An operator keeps devices in an inventory (NetBox, a CMDB, a spreadsheet export) and drops a generated file in
place, as for Prometheus' ``file_sd_configs``. Each file (YAML or JSON) is a list of target groups::

    - targets: [sbc-atl-1=192.0.2.10:8888, "sbc-atl-2=https://192.0.2.11:8888"]
      labels: {profile: sbc-standard, site: atl}

A target is ``NAME=ADDRESS`` (or an address alone, its host then being the name); an address without a scheme
is ``https://``. The ``profile`` label names the profile (``profiles:`` in the configuration) that gives the
target its family, credentials and settings: an inventory carries no secret. Every other label is the
operator's own (on ``vsxi_xivo_target_info`` and in ``/sd``).

Files are checked for a change (modification time, size, inode) every ``refresh_interval`` and on reload;
only a changed file is read again, and the engine restarts only targets whose definition changed. A broken
file (unreadable, bad YAML, a bad entry, a name another file or the configuration has) keeps its last good
targets, is logged once per distinct problem, and shows as ``vsxi_xivo_exporter_inventory_file_ok{file} 0``.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from exporter.config import Config, check_labels, check_target_entry
from exporter.configfile import Checker, ConfigError, load_yaml, read_text, type_name
from exporter.keys import Key, Keys, names, required
from exporter.logs import log
from exporter.registry import FAMILIES
from exporter.target import Target

logger = logging.getLogger("exporter.inventory")

# One group of an inventory file (Prometheus' file_sd shape).
GROUP_KEYS: Keys = (
    Key("targets", "list of strings", "", "`NAME=ADDRESS` entries (`sbc-atl-9=192.0.2.19:8888`; `https://` unless "
        "the address has a scheme; a bare address is its own name).", required=True),
    Key("labels", "mapping of label names to strings", "", "`profile` (required: the family, credentials and "
        "settings of the group's targets; an inventory holds no secret) and the operator's own labels."),
)


@dataclass(frozen=True)
class FileState:
    """What one inventory file gives: its last good targets, and whether its last read was good."""

    stamp: tuple[int, int, int] | None  # (mtime_ns, size, inode) of the last read
    targets: tuple[Target, ...] = ()
    ok: bool = True
    problems: tuple[str, ...] = ()


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _split(entry: str) -> tuple[str, str]:
    """``NAME=ADDRESS`` or an address alone: (name, URL)."""
    name, sep, address = entry.partition("=")
    if not sep:
        address = entry
    url = address if "://" in address else "https://" + address
    if not sep:
        name = urlsplit(url).hostname or address
    return name.strip(), url.strip()


def read_file(path: str, config: Config, taken: dict[str, str]) -> tuple[Target, ...]:
    """The targets of one inventory file, checked as the configuration's own; raises ConfigError naming the
    file and the entry. ``taken``: names already used (name -> where), which must not be used again."""
    groups = load_yaml(read_text(path), path)
    c = Checker(path)
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        raise ConfigError([f"{path}: expected a list of target groups (file_sd), got {type_name(groups)}"])
    out: list[Target] = []
    seen: dict[str, str] = {}
    for g, group in enumerate(groups):
        where = f"[{g}]"
        group = c.mapping(group, where, names(GROUP_KEYS), required(GROUP_KEYS))
        entries = group.get("targets")
        labels = group.get("labels") or {}
        if not isinstance(labels, dict):
            c.error(f"{where}.labels", f"expected a mapping, got {type_name(labels)}")
            continue
        if not isinstance(entries, list):
            if "targets" in group:
                c.error(f"{where}.targets", f"expected a list, got {type_name(entries)}")
            continue
        labels = dict(labels)
        profile_name = labels.pop("profile", None)
        labels = check_labels(c, labels, f"{where}.labels")  # once per group; only valid ones go on
        profile = config.profiles.get(profile_name) if isinstance(profile_name, str) else None
        if profile is None:
            c.error(f"{where}.labels.profile", "every inventory target needs a profile (its family, credentials "
                    "and settings: an inventory holds no secret)" if profile_name is None else
                    f"unknown profile {profile_name!r}" + (f" (defined: {', '.join(sorted(config.profiles))})"
                                                           if config.profiles else " (no profiles are defined)"))
            continue
        family = FAMILIES[profile.family]
        for i, entry in enumerate(entries):
            at = f"{where}.targets[{i}]"
            if not isinstance(entry, str) or not entry.strip():
                c.error(at, f"expected NAME=ADDRESS, got {type_name(entry)}")
                continue
            name, url = _split(entry)
            node = {"name": name, "url": url, "profile": profile_name, "labels": labels}
            target = check_target_entry(c, node, at, family, config.profiles, config.defaults, config.base_dir)
            if target is None or not target.name:
                continue
            other = seen.get(target.name) or taken.get(target.name)
            if other is not None:
                c.error(f"{at}", f"duplicate target name {target.name!r} (also {other})")
                continue
            seen[target.name] = f"{os.path.basename(path)}{at}"
            out.append(target)
    if c.problems:
        raise ConfigError(c.problems)
    return tuple(out)


class Inventory:
    """The inventory files' targets, file by file, with each file's last good list."""

    def __init__(self) -> None:
        self.files: dict[str, FileState] = {}

    def paths(self, config: Config) -> list[str]:
        found: list[str] = []
        for pattern in config.inventory_files:
            matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            found += [m for m in matches if m not in found]
        return found

    def scan(self, config: Config, force: bool = False, report: bool = True) -> bool:
        """Reads the files that changed (all with ``force``: after a reload, the profiles may differ); True
        when the targets they give changed. ``report``: log a file's new problems (not for --config.check,
        which prints them)."""
        before = self.targets()
        paths = self.paths(config)
        for gone in [p for p in self.files if p not in paths]:
            del self.files[gone]
        stamps = {path: _stamp(path) for path in paths}
        changed = [p for p in paths if force or p not in self.files or stamps[p] != self.files[p].stamp]
        # Names already in use: the configuration's, then the files that did not change (a changed file that
        # takes one of their names is the one refused: the conflict is what changed).
        taken = {t.name: os.path.basename(config.path) for t in config.targets}
        for path in paths:
            if path not in changed:
                for t in self.files[path].targets:
                    taken.setdefault(t.name, os.path.basename(path))
        for path in changed:
            previous = self.files.get(path)
            try:
                targets = read_file(path, config, taken)
            except ConfigError as exc:
                kept = previous.targets if previous is not None else ()
                problems = tuple(exc.problems)
                if report and (previous is None or previous.problems != problems):
                    log(logger, logging.ERROR, "inventory file not applied; its last good targets are kept",
                        file=path, kept=len(kept), problems="; ".join(problems[:20]))
                self.files[path] = FileState(stamps[path], kept, False, problems)
            else:
                if previous is not None and not previous.ok:
                    log(logger, logging.INFO, "inventory file applied again", file=path, targets=len(targets))
                self.files[path] = FileState(stamps[path], targets, True)
            for t in self.files[path].targets:
                taken.setdefault(t.name, os.path.basename(path))
        return self.targets() != before

    def targets(self) -> tuple[Target, ...]:
        return tuple(t for state in self.files.values() for t in state.targets)

    def problems(self) -> list[str]:
        return [p for state in self.files.values() for p in state.problems]


def with_inventory(config: Config, inventory: Inventory) -> Config:
    """The configuration's own targets and the inventory's. A name is used once, the first time: a broken
    file's kept targets may meet a name the configuration took since (a reload), and the first one stays."""
    seen = {t.name for t in config.targets}
    extra = []
    for t in inventory.targets():
        if t.name not in seen:
            seen.add(t.name)
            extra.append(t)
    return replace(config, targets=config.targets + tuple(extra))

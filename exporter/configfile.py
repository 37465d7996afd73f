"""Reading a configuration file strictly, the same way for every file the exporter reads (its configuration,
inventory files, the web configuration).

Every problem is reported, not only the first, each as ``FILE: KEY.PATH: what is wrong``, so an operator
fixes a file in one round trip. Unknown keys are errors: a typo (``pasword_file``) must never silently fall
back to a default. A key given twice in one mapping is an error too (YAML's last-one-wins hides typos).
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

import yaml

DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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
        raise error([f"{path}: {not_utf8(exc)}"]) from None


def load_yaml(text: str, path: str, error: type[ConfigError] = ConfigError) -> Any:
    """Strict YAML (a key given twice is an error), or ``error`` naming the file, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error([f"{path}: {where}invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None


def not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"

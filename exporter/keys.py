"""The configuration's keys, each declared once with its type, default and meaning (``Key``): the checker takes
the keys it accepts from these tables (an unknown key is an error naming them), and docs/configuration.md is
generated from the same tables (``python -m exporter.configdoc``), so a key cannot be accepted and undocumented,
or documented and refused (tests/test_config.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # as the documentation says it: "duration", "integer", "string", "list of strings", ...
    default: str  # as a user writes it; "" when there is none (required, or absent means "not set")
    meaning: str  # Markdown
    required: bool = False


Keys = tuple[Key, ...]


def names(keys: Iterable[Key]) -> tuple[str, ...]:
    return tuple(k.name for k in keys)


def required(keys: Iterable[Key]) -> tuple[str, ...]:
    return tuple(k.name for k in keys if k.required)


def merged(common: Keys, own: Keys) -> Keys:
    """``common`` then ``own``; an own key of a common key's name replaces it (a family's default or meaning
    for it), in the common key's place."""
    mine = {k.name: k for k in own}
    return (*(mine.pop(k.name, k) for k in common), *mine.values())

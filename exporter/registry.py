"""The device families the exporter knows: the one module that names them all.

Adding a family: write its package (``exporter/<family>/``, ending in a ``family.py`` that builds its
``devicefamily.Family``) and add it to ``FAMILIES`` below. Nothing else changes (CONTRIBUTING.md: "Adding a
device family").
"""

from __future__ import annotations

from exporter.devicefamily import Family
from exporter.vsxi.family import FAMILY as VSXI
from exporter.xivo.family import FAMILY as XIVO

# In exposition order (each catalogue's ``order``), which is also the order of the configuration's keys.
FAMILIES: dict[str, Family] = {f.name: f for f in (VSXI, XIVO)}


def register(new: Family) -> None:
    """Add a family at run time (a plugin, or a test's own family)."""
    if new.name in FAMILIES:
        raise ValueError(f"device family {new.name!r} is registered already")
    FAMILIES[new.name] = new


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)

"""The configuration of one SBC (``vsxi:`` entries): its target record and its strict check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.configfile import Checker
from exporter.target import Target, check_collectors, check_name, common_target_keys
from exporter.vsxi.collectors import COLLECTORS as COLLECTOR_TABLE

COLLECTORS = tuple(COLLECTOR_TABLE)
FORMATS = ("xml", "json")


@dataclass(frozen=True)
class VsxiTarget(Target):
    format: str = "xml"
    collectors: tuple[str, ...] = COLLECTORS
    ha_group: str | None = None  # SBCs of one HA pair share it: lets an alert see two active nodes
    family: str = field(default="vsxi", init=False)

    def discovery_labels(self) -> dict[str, str]:
        return {"ha_group": self.ha_group} if self.ha_group else {}


KEYS = ("name", "url", "username", "password", "password_file", "format", "tls", "collectors",
        "interval", "timeout", "connect_timeout", "max_response_bytes", "max_series", "ha_group")


def check_vsxi(c: Checker, node: Any, path: str, defaults: dict, base_dir: str) -> VsxiTarget | None:
    node = c.mapping(node, path, KEYS, ("name", "url", "username"))
    if not node:
        return None
    return VsxiTarget(
        **common_target_keys(c, node, path, defaults, base_dir),
        format=c.choice(node, "format", path, FORMATS, "xml"),
        collectors=check_collectors(c, node, path, COLLECTORS),
        ha_group=check_name(c, node, "ha_group", path),
    )

"""The configuration of one SBC (``vsxi:`` entries): its target record and its strict check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.configfile import Checker
from exporter.keys import Key, Keys, names, required
from exporter.target import Target, check_collectors, check_name, common_target_keys, target_keys
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


# Its own keys, after every target's (exporter.target.TARGET_KEYS).
KEYS: Keys = (
    Key("format", "one of: xml, json", "xml", "The format asked for. XML is the device's own; with JSON, a "
        "table the device fails to convert (HTTP 500 `convert xml2json failed(JAXB)`) is polled as XML from "
        "then on."),
    Key("ha_group", "string", "", "SBCs of one HA pair share it (`vsxi_target_info`), so that an alert sees two "
        "active nodes at once."),
)
ALL_KEYS = target_keys(KEYS)


def check_vsxi(c: Checker, node: Any, path: str, defaults: dict, base_dir: str) -> VsxiTarget | None:
    node = c.mapping(node, path, names(ALL_KEYS), required(ALL_KEYS))
    if not node:
        return None
    return VsxiTarget(
        **common_target_keys(c, node, path, defaults, base_dir),
        format=c.choice(node, "format", path, FORMATS, "xml"),
        collectors=check_collectors(c, node, path, COLLECTORS),
        ha_group=check_name(c, node, "ha_group", path),
    )

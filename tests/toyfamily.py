"""A third device family, defined entirely in the test suite: a "toy" thermometer answering JSON at
``GET /<collector>``. Everything the shared code needs of a family, and nothing more; tests/test_registry.py
registers it and checks that config, polling, /metrics, /probe, status series, the landing page and reload
all work for it without any change to the shared code.

This module stays free of I/O libraries: the parse workers import it to run ``parse_and_build``. The poller
(aiohttp) is in tests/test_registry.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from exporter import devicefamily
from exporter.catalog import Builder, Catalog
from exporter.configfile import Checker
from exporter.devicefamily import Collector, ParseResult
from exporter.payload import PayloadError
from exporter.polling.status import StatusSpecs, common_collector_series
from exporter.target import Target, check_collectors, common_target_keys

CATALOG = Catalog(order=3)
TARGET = ("target",)
TARGET_COLLECTOR = ("target", "collector")
UP = CATALOG.gauge("toy_up", TARGET, "1 when the last poll round of the toy got at least one collector.", "status")
SUCCESS = CATALOG.gauge("toy_collector_success", TARGET_COLLECTOR, "1 when the last poll succeeded.", "status")
LAST_SUCCESS = CATALOG.gauge("toy_collector_last_success_timestamp_seconds", TARGET_COLLECTOR,
                             "Unix time of the last successful poll.", "status")
DURATION = CATALOG.gauge("toy_collector_duration_seconds", TARGET_COLLECTOR, "Duration of the last poll.", "status")
BYTES = CATALOG.gauge("toy_collector_response_bytes", TARGET_COLLECTOR, "Size of the last answer.", "status")
TEMPERATURE = CATALOG.gauge("toy_temperature_celsius", TARGET, "Temperature (GET /thermometer temperature).",
                            "thermometer")

STATUS = StatusSpecs(up=UP, collector=common_collector_series(SUCCESS, LAST_SUCCESS, DURATION, BYTES))


def parse_thermometer(body: bytes) -> float:
    try:
        return float(json.loads(body)["temperature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PayloadError("invalid_payload", f"no temperature: {exc}") from None


def build_thermometer(b: Builder, target: str, celsius: float) -> None:
    b.add(TEMPERATURE, (target,), celsius)


COLLECTORS = {"thermometer": Collector("thermometer", parse_thermometer, build_thermometer)}


def parse_and_build(collector: str, target: str, answer: Any) -> ParseResult:
    return devicefamily.parse_collector(COLLECTORS, collector, target, answer)


@dataclass(frozen=True)
class ToyTarget(Target):
    collectors: tuple[str, ...] = tuple(COLLECTORS)
    family: str = field(default="toy", init=False)


KEYS = ("name", "url", "username", "password", "password_file", "tls", "collectors", "interval", "timeout",
        "max_response_bytes", "max_series")


def check_toy(c: Checker, node: Any, path: str, defaults: dict, base_dir: str) -> ToyTarget | None:
    node = c.mapping(node, path, KEYS, ("name", "url", "username"))
    if not node:
        return None
    return ToyTarget(**common_target_keys(c, node, path, defaults, base_dir),
                     collectors=check_collectors(c, node, path, tuple(COLLECTORS)))

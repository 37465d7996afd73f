"""``--demo``: every family's simulated devices on loopback, and the config that polls them.

Each family says what its demo is (``Family.demo``): devices speaking each wire format and layout it reads, some
written as other firmware may, so that the demo exercises every wire variant.
"""

from __future__ import annotations

from aiohttp import web

from exporter.config import Config
from exporter.devicefamily import DemoDevice
from exporter.registry import FAMILIES


async def start_demo(interval: float = 10.0) -> tuple[Config, list[web.AppRunner], list[DemoDevice]]:
    """The demo config, the simulators' runners, and the demo devices (target and fault control)."""
    runners: list[web.AppRunner] = []
    devices: list[DemoDevice] = []
    for family in FAMILIES.values():
        if family.demo is None:
            continue
        demo = await family.demo(interval)
        runners.extend(demo.runners)
        devices.extend(demo.devices)
    return Config(path="<demo>", targets=tuple(d.target for d in devices)), runners, devices

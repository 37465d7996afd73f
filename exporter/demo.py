"""``--demo``: two simulated SBCs on loopback, and the config that polls them.

One speaks XML in the old mysqldump layout, the other JSON in the new layout (``table_data`` with
``xsi:nil``), so the demo exercises both wire families end to end.
"""

from __future__ import annotations

from aiohttp import web

from exporter.config import Config, VsxiTarget
from exporter.simulator.vsxi_app import VsxiSimulator, start_simulator

DEMO_PASSWORD = "demo-secret"  # noqa: S105 - the simulators' own, loopback only
DEMO_DEVICES = (("sbc-demo-xml", "xml", "old"), ("sbc-demo-json", "json", "new"))


async def start_demo(interval: float = 10.0) -> tuple[Config, list[web.AppRunner]]:
    runners, targets = [], []
    for name, fmt, layout in DEMO_DEVICES:
        sim = VsxiSimulator(username="monitor", password=DEMO_PASSWORD, layout=layout)
        runner, url = await start_simulator(sim)
        runners.append(runner)
        targets.append(VsxiTarget(name=name, url=url, username="monitor", password=DEMO_PASSWORD, format=fmt,
                                  interval=interval, timeout=5.0))
    return Config(path="<demo>", vsxi=tuple(targets)), runners

"""Shared setup for tests that run the exporter against simulators over real HTTP on loopback."""

from __future__ import annotations

import re

from exporter.config import Config, VsxiTarget
from exporter.engine.engine import Engine
from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.simulator.vsxi_model import Scale

PASSWORD = "pw-Zq81"  # distinctive, so a leak into logs or metrics is easy to spot
SMALL = Scale(trunks=3, registrations=30, calls=12, media_servers=2, nodes=1)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def make_target(aiohttp_server, name="sbc-1", faults=None, layout="old", password=PASSWORD,
                      scale=SMALL, **target) -> tuple[VsxiSimulator, VsxiTarget]:
    sim = VsxiSimulator(username="monitor", password=PASSWORD, layout=layout, scale=scale, faults=faults)
    server = await aiohttp_server(sim.app())
    options = {"interval": 5.0, "timeout": 2.0, **target}
    return sim, VsxiTarget(name=name, url=str(server.make_url("")).rstrip("/"), username="monitor",
                           password=password, **options)


def make_engine(*targets, clock=None, max_concurrent: int = 16) -> Engine:
    config = Config(path="test", vsxi=tuple(t for t in targets if t.family == "vsxi"),
                    xivo=tuple(t for t in targets if t.family == "xivo"), max_concurrent_targets=max_concurrent)
    return Engine(config, clock=clock) if clock else Engine(config)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a text exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([^{ ]+)(?:\{(.*)\})? (\S+)$", line)
        if m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


async def make_xivo(generation="xivo16", name=None, password="xivo-Pw7", faults=None, auth="token", acls=None,
                    scale=None, gateway=None, **target):
    """A simulated PBX and a target for it; returns (sim, target, runners)."""
    from exporter.config import XivoTarget
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.simulator.xivo_model import BACKENDS

    sim = XivoSimulator(generation, username="exporter", password="xivo-Pw7", faults=faults, acls=acls,
                        scale=scale)
    runners, where = await start_xivo(sim, gateway=gateway)
    options = {"interval": 5.0, "timeout": 2.0, **target}
    return sim, XivoTarget(name=name or f"pbx-{generation}", username="exporter", password=password,
                           backend=BACKENDS[generation], auth=auth, **where, **options), runners

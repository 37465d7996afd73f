"""``--demo``: two simulated SBCs and two simulated PBXs on loopback, and the config that polls them.

One SBC speaks XML in the old mysqldump layout, the other JSON in the new layout (``table_data`` with
``xsi:nil``) and writes its answers as other firmware may (a byte-order mark, 19,750 and 98%, TrunkId,
HH:MM:SS durations, a value that is no number: the simulator's ``field_variants``); one PBX is a XiVO 16
(a port per service, backend xivo_service, chan_sip) and the other a Wazo
(API gateway, backend wazo_user, calld trunks and lines), so the demo exercises every wire variant.
"""

from __future__ import annotations

from aiohttp import web

from exporter.config import Config, VsxiTarget, XivoTarget
from exporter.simulator.vsxi_app import VsxiSimulator, start_simulator
from exporter.simulator.xivo_app import XivoSimulator, start_xivo
from exporter.simulator.xivo_model import BACKENDS

DEMO_PASSWORD = "demo-secret"  # noqa: S105 - the simulators' own, loopback only
DEMO_SBCS = (("sbc-demo-xml", "xml", "old", None),
             ("sbc-demo-json", "json", "new", {"field_variants": True, "bom": True}))
DEMO_PBXS = (("pbx-demo-xivo16", "xivo16"), ("pbx-demo-wazo", "wazo"))


async def start_demo(interval: float = 10.0) -> tuple[Config, list[web.AppRunner], dict[str, str]]:
    """The demo config, the simulators' runners, and each simulator's fault-control URL by target name."""
    runners: list[web.AppRunner] = []
    sbcs, pbxs = [], []
    controls: dict[str, str] = {}
    for name, fmt, layout, faults in DEMO_SBCS:
        sim = VsxiSimulator(username="monitor", password=DEMO_PASSWORD, layout=layout, faults=faults)
        if fmt == "xml":
            # gw_realtime_stat with trunk-pair rows (their shape is assumed: only seen empty), so the
            # dashboards' trunk-pair panels have data in the demo.
            sim.model.busy_gateways = True
        runner, url = await start_simulator(sim)
        runners.append(runner)
        controls[name] = f"{url}/_sim/faults"
        sbcs.append(VsxiTarget(name=name, url=url, username="monitor", password=DEMO_PASSWORD, format=fmt,
                               interval=interval, timeout=5.0))
    for name, generation in DEMO_PBXS:
        sim = XivoSimulator(generation, username="exporter", password=DEMO_PASSWORD)
        started, where = await start_xivo(sim)
        runners.extend(started)
        base = where["url"] if where["api_gateway"] else where["services"]["auth"].rsplit("/", 1)[0]
        controls[name] = f"{base}/_sim/faults"
        pbxs.append(XivoTarget(name=name, username="exporter", password=DEMO_PASSWORD,
                               backend=BACKENDS[generation], interval=interval, timeout=5.0, **where))
    return Config(path="<demo>", vsxi=tuple(sbcs), xivo=tuple(pbxs)), runners, controls

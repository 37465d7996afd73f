"""Run a simulated VSXi: ``python -m exporter.simulator --port 18888 --registrations 100000``,
or a simulated PBX: ``python -m exporter.simulator --pbx wazo`` (``xivo16``: one port per service).

Faults can be changed while it runs: ``curl -X PATCH localhost:18888/_sim/faults -d '{"status": 401}'``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.simulator.vsxi_model import Scale


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m exporter.simulator", description="Simulated Sansay VSXi API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18888)
    p.add_argument("--username", default="monitor")
    p.add_argument("--password", default="secret")
    p.add_argument("--layout", choices=["old", "new"], default="old", help="mysqldump layout")
    for name, default in vars(Scale()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=default, help=f"scale (default {default})")
    p.add_argument("--faults", default="{}", help="initial faults as JSON, e.g. '{\"latency\": 0.5}'")
    p.add_argument("--pbx", choices=["xivo16", "wazo"], help="simulate a XiVO 16 or Wazo PBX instead of an SBC")
    a = p.parse_args(argv)
    if a.pbx:
        asyncio.run(run_pbx(a.pbx, a.host, a.username if a.username != "monitor" else "exporter", a.password,
                            json.loads(a.faults)))
        return
    scale = Scale(**{k: getattr(a, k) for k in vars(Scale())})
    sim = VsxiSimulator(a.username, a.password, a.layout, scale, json.loads(a.faults))
    web.run_app(sim.app(), host=a.host, port=a.port, access_log=None,
                print=lambda _: print(f"VSXi simulator on http://{a.host}:{a.port}", flush=True))


async def run_pbx(generation: str, host: str, username: str, password: str, faults: dict) -> None:
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.simulator.xivo_model import BACKENDS

    sim = XivoSimulator(generation, username=username, password=password, faults=faults)
    runners, where = await start_xivo(sim, host)
    print(f"{generation} simulator; a xivo target for it (username {username}, backend "
          f"{BACKENDS[generation]}):", flush=True)
    print(json.dumps(where, indent=2), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()


if __name__ == "__main__":
    main()

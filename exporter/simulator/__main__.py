"""Run a simulated VSXi: ``python -m exporter.simulator --port 18888 --registrations 100000``.

Faults can be changed while it runs: ``curl -X PATCH localhost:18888/_sim/faults -d '{"status": 401}'``.
"""

from __future__ import annotations

import argparse
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
    a = p.parse_args(argv)
    scale = Scale(**{k: getattr(a, k) for k in vars(Scale())})
    sim = VsxiSimulator(a.username, a.password, a.layout, scale, json.loads(a.faults))
    web.run_app(sim.app(), host=a.host, port=a.port, access_log=None,
                print=lambda _: print(f"VSXi simulator on http://{a.host}:{a.port}", flush=True))


if __name__ == "__main__":
    main()

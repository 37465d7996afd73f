"""Pictures of the shipped dashboards, drawn from real data: no Grafana server is needed.

Starts the exporter's demo (simulated SBCs and PBXs) and a real Prometheus (Debian's ``prometheus``) with the
shipped recording rules, lets it scrape for a while (injecting one fault half-way, so something moves), then
runs every panel's query against Prometheus (range queries for time series, instant ones for stats, bar
gauges and tables) and draws each dashboard with matplotlib at its Grafana layout (gridPos, 24 columns) into
docs/img/<uid>.png.

    pip install matplotlib && python3 docs/render_dashboards.py --minutes 4

matplotlib is only needed here, not by the exporter or its tests.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mixin.dashboards import dashboards  # noqa: E402

VARIABLES = {"$__rate_interval": "20s", "$job": ".+", "$target": ".+", "$trunk": ".+", "$queue": ".+",
             "$instance": ".+", "$window": "1h"}
UNIT_SCALE = {"percentunit": (100, "%"), "s": (1, "s"), "bytes": (1 / 1e6, "MB"), "ops": (1, "/s"),
              "reqps": (1, "req/s")}


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def substitute(expr: str) -> str:
    for key in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(key, VARIABLES[key])
    return expr


def legend(fmt: str, labels: dict) -> str:
    if fmt in ("", "__auto"):
        return ",".join(f"{k}={v}" for k, v in labels.items() if k not in ("job", "instance")) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip()


def start(tmp: Path) -> tuple[list[subprocess.Popen], str, dict]:
    exporter = subprocess.Popen([sys.executable, "-m", "exporter", "--demo", "--web.listen-address",
                                 "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                cwd=ROOT)
    address = re.search(r"metrics at http://(\S+)/metrics", exporter.stdout.readline()).group(1)
    controls = {}
    for _ in range(4):
        m = re.match(r"\s+(\S+): inject faults with curl (?:-k )?-X PATCH (\S+)", exporter.stdout.readline())
        controls[m.group(1)] = m.group(2)
    config = {"global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
              "rule_files": [str(ROOT / "rules" / "recording.yml")],
              "scrape_configs": [{"job_name": "vsxi", "static_configs": [{"targets": [address]}]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = 19090
    prometheus = subprocess.Popen([shutil.which("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [exporter, prometheus], f"http://127.0.0.1:{port}/api/v1", controls


def patch(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PATCH")
    urllib.request.urlopen(request, timeout=5).close()


def draw(dashboard: dict, api: str, start_ts: float, end_ts: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_h = 0.42
    fig = plt.figure(figsize=(20, rows * unit_h + 0.8), facecolor="#111217")
    fig.suptitle(dashboard["title"], color="white", fontsize=16, x=0.01, ha="left", y=1 - 0.25 / (rows * unit_h))
    height = rows * unit_h + 0.8

    def axes(pos: dict):
        x, y, w, h = pos["x"] / 24, pos["y"] * unit_h + 0.6, pos["w"] / 24, pos["h"] * unit_h
        # Room on the left for the tick labels, at the bottom for the minutes, at the top for the title.
        ax = fig.add_axes((x + 0.026, 1 - (y + h) / height + 0.32 / height, w - 0.032, (h - 0.62) / height))
        ax.set_facecolor("#181b1f")
        for spine in ax.spines.values():
            spine.set_color("#2a2d33")
        ax.tick_params(colors="#9fa3a9", labelsize=7)
        return ax

    for panel in panels:
        if panel["type"] == "row":
            y = panel["gridPos"]["y"] * unit_h + 0.6
            fig.text(0.005, 1 - (y + 0.3) / height, panel["title"], color="#d8d9da", fontsize=11, weight="bold")
            continue
        ax = axes(panel["gridPos"])
        ax.set_title(panel["title"], color="#d8d9da", fontsize=9, loc="left")
        scale, suffix = UNIT_SCALE.get(panel["fieldConfig"]["defaults"].get("unit"), (1, ""))
        series = []
        for target in panel["targets"]:
            expr = substitute(target["expr"])
            if panel["type"] == "timeseries":
                data = get(f"{api}/query_range?" + urllib.parse.urlencode(
                    {"query": expr, "start": start_ts, "end": end_ts, "step": 4}))["data"]["result"]
                for r in data[:12]:
                    xs = [float(t) - end_ts for t, _ in r["values"]]
                    ys = [float(v) * scale for _, v in r["values"]]
                    series.append((legend(target.get("legendFormat", ""), r["metric"]), xs, ys))
            else:
                data = get(f"{api}/query?" + urllib.parse.urlencode({"query": expr, "time": end_ts}))["data"]
                for r in data["result"][:12]:
                    series.append((legend(target.get("legendFormat", ""), r["metric"]), None,
                                   float(r["value"][1]) * scale))
        if not series:
            ax.text(0.5, 0.5, "No data", color="#9fa3a9", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        elif panel["type"] == "timeseries":
            for name, xs, ys in series:
                ax.plot([x / 60 for x in xs], ys, linewidth=1.2, label=name[:40])
            ax.set_xlabel("minutes", color="#9fa3a9", fontsize=7)
            if suffix:
                ax.set_ylabel(suffix, color="#9fa3a9", fontsize=7)
            ax.legend(fontsize=6, loc="upper left", frameon=False, labelcolor="#c7d0d9", ncol=2)
        elif panel["type"] == "stat" and len(series) <= 2:
            text = "  ".join(f"{v:g}{suffix}" for _, _, v in series)
            ax.text(0.5, 0.45, text, color="#73bf69", fontsize=22, ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            names = [n[:36] for n, _, _ in series]
            values = [v for _, _, v in series]
            ax.barh(range(len(values)), values, color="#5794f2")
            ax.set_yticks(range(len(values)), names, fontsize=6)
            ax.invert_yaxis()
    fig.savefig(out, dpi=64, facecolor=fig.get_facecolor())
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=4.0, help="how long Prometheus scrapes before drawing")
    p.add_argument("--output", default=str(ROOT / "docs" / "img"))
    args = p.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        procs, api, controls = start(Path(tmp))
        try:
            started = time.time()
            half = started + args.minutes * 30
            faulted = False
            while time.time() < started + args.minutes * 60:
                if not faulted and time.time() > half:
                    # Half-way: one SBC refuses (503) for a while, so the health panels show a change.
                    patch(controls["sbc-demo-json"], {"status": 503})
                    faulted = True
                time.sleep(2)
            patch(controls["sbc-demo-json"], {"status": None})
            end = time.time()
            for dashboard in dashboards():
                path = out / f"{dashboard['uid']}.png"
                draw(dashboard, api, started, end, path)
                print(f"wrote {path.relative_to(ROOT)}")
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The memory model's terms, measured: what the exporter costs at rest, per target by family and size, and
what the in-flight byte budget and the parse workers add. Prints each term; docs/performance.md ("Memory") quotes them.

    python bench/memory.py [--targets 400] [--interval 10]

For each case, three exporters (``python -m exporter``, separate processes) poll the same loopback devices:
with one target, half of ``--targets`` and all of them; each is measured after three poll rounds, the main
process and the parse workers apart. The per-target cost is the slope between the last two (the targets
added, divided by their number); the base is the exporter with one target (the interpreter, the libraries,
the workers); what the half fleet costs beyond base + slope x targets is the working set of the answers being
read and parsed at once (up to ``max_concurrent_targets`` of them: it does not grow with the fleet).
VSXi devices come from ``bench/devices.py`` (all seven tables, answers of the given size); XiVO targets all
point at one simulated Wazo PBX (``python -m exporter.simulator --pbx wazo``), each with its own token and state.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from fleet import _children, device_url, variant  # noqa: E402

# (label, family, trunks, registrations, calls): the sizes operators asked about.
CASES = (
    ("VSXi, 20 trunks, 200 registrations, 120 calls", "vsxi", 20, 200, 120),
    ("VSXi, 100 trunks, 2,000 registrations, 500 calls", "vsxi", 100, 2000, 500),
    ("XiVO/Wazo (simulated PBX, default size)", "xivo", 0, 0, 0),
)


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def _listen(proc: subprocess.Popen) -> int:
    line = proc.stdout.readline()
    m = re.search(r"listening (\d+)", line)
    if m is None:
        raise SystemExit(f"no port from {proc.args}: {line!r}")
    return int(m.group(1))


def _config(family: str, port, targets: int, interval: float) -> str:
    lines = ["defaults:", f"  interval: {interval:g}s", f"  timeout: {min(5.0, interval):g}s", f"{family}:"]
    for i in range(targets):
        if family == "vsxi":
            lines += [f"  - name: sbc-{i:04d}", f"    url: {device_url(port, i)}", "    username: bench",
                      "    password: bench", f"    format: {variant(i)[0]}"]
        else:
            lines += [f"  - name: pbx-{i:04d}", "    username: exporter", "    password: secret",
                      "    backend: wazo_user"] + [f"    {k}: {json.dumps(v)}" for k, v in port.items()]
    path = tempfile.mktemp(suffix=".yml", prefix="memory-")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _metric(body: str, name: str) -> float:
    m = re.search(rf"(?m)^{name} (\S+)$", body)
    return float(m.group(1)) if m else float("nan")


def measure(family: str, port: int, targets: int, interval: float) -> dict:
    config = _config(family, port, targets, interval)
    proc = subprocess.Popen([sys.executable, "-m", "exporter", "--config.file", config, "--web.listen-address",
                             "127.0.0.1:0", "--log.level", "info"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        listen = None
        deadline = time.monotonic() + 60
        while listen is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r'listening.*address="?http://127\.0\.0\.1:(\d+)', line)
            if m:
                listen = int(m.group(1))
        if listen is None:
            raise SystemExit("the exporter did not say where it listens")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # drained: a full pipe would block it
        base = f"http://127.0.0.1:{listen}"
        while time.monotonic() < deadline + 10 * interval:
            try:
                if urllib.request.urlopen(base + "/-/ready", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        time.sleep(3 * interval)  # three rounds: every state holds its data, the workers have parsed
        own = urllib.request.urlopen(base + "/metrics?devices=false", timeout=30).read().decode()
        workers = _children(proc.pid)
        return {"main": rss_kb(proc.pid) / 1024, "workers": sum(rss_kb(p) for p in workers) / 1024,
                "worker_count": len(workers),
                "held": _metric(own, "vsxi_xivo_exporter_cached_exposition_bytes"),
                "text": _metric(own, "vsxi_xivo_exporter_cached_exposition_text_bytes"),
                "budget": _metric(own, "vsxi_xivo_exporter_in_flight_limit_bytes")}
    finally:
        proc.terminate()
        proc.wait(15)
        os.unlink(config)


def devices_for(family: str, trunks: int, registrations: int, calls: int) -> tuple[subprocess.Popen, int]:
    if family == "vsxi":
        cmd = [sys.executable, os.path.join(HERE, "devices.py"), "--trunks", str(trunks), "--registrations",
               str(registrations), "--calls", str(calls)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        return proc, _listen(proc)
    proc = subprocess.Popen([sys.executable, "-m", "exporter.simulator", "--pbx", "wazo"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "wazo simulator; a xivo target for it ...", then the target's keys as JSON
    text = ""
    while True:
        text += proc.stdout.readline()
        try:
            return proc, json.loads(text)
        except json.JSONDecodeError:
            continue


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", type=int, default=400)
    p.add_argument("--interval", type=float, default=10.0)
    a = p.parse_args()
    print(f"memory model terms: 1 target vs {a.targets}, interval {a.interval:g}s, after 3 rounds; "
          f"{os.cpu_count()} cores\n")
    base = None
    for label, family, trunks, registrations, calls in CASES:
        devices, port = devices_for(family, trunks, registrations, calls)
        try:
            one = measure(family, port, 1, a.interval)
            half = measure(family, port, a.targets // 2, a.interval)
            many = measure(family, port, a.targets, a.interval)
        finally:
            devices.terminate()
            devices.wait()
        if base is None:
            base = one
            print(f"base (1 target): main process {one['main']:.0f} MB, {one['worker_count']} parse workers "
                  f"{one['workers']:.0f} MB together; in-flight budget {one['budget'] / 2**20:.0f} MiB (counted "
                  "on top only while answers are being read)\n")
        added = a.targets - a.targets // 2
        main = (many["main"] - half["main"]) / added
        workers = (many["workers"] - half["workers"]) / added
        working = (half["main"] + half["workers"]) - (one["main"] + one["workers"]) \
            - (main + workers) * (a.targets // 2 - 1)
        print(f"{label}:")
        print(f"  per target {(main + workers) * 1000:6.0f} kB (main process {main * 1000:.0f} kB, workers "
              f"{workers * 1000:.0f} kB); exposition held {many['held'] / a.targets / 1000:.1f} kB for "
              f"{many['text'] / a.targets / 1000:.0f} kB of text")
        print(f"  answers in flight (working set, not per target): {working:.0f} MB")
        for n, r in ((1, one), (a.targets // 2, half), (a.targets, many)):
            print(f"  {n:5d} targets: main {r['main']:.0f} MB, workers {r['workers']:.0f} MB, "
                  f"together {r['main'] + r['workers']:.0f} MB")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

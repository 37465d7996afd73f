"""Inventory at fleet scale: 10,000 targets in inventory files, the times to read them, to check the whole
configuration, and to see and apply a change of one line.

    python bench/inventory.py [--targets 10000] [--files 10]

Writes a configuration with two profiles (a password file and a CA file, as a real fleet has: each is read
once per load) and ``--files`` inventory files, then measures, in this process (medians of 3):

* start: the configuration file and every inventory file read and checked (what start-up and
  ``--config.check`` do), and the engine's diff against an empty configuration;
* one changed line (a target's address): the scan that finds the changed file, reads it again, and the
  diff that finds the one target to restart (what the inventory watch does every refresh_interval);
* nothing changed: the scan alone (stat of every file).

Goal (issue 22): under 2 s to read and diff 10,000 targets; one changed line restarts one target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from exporter.config import load_config  # noqa: E402
from exporter.inventory import Inventory, with_inventory  # noqa: E402

GOAL_S = 2.0


def diff(old, new) -> tuple[int, int, int]:
    """What Engine.reload compares: removed, changed, added (targets by name, compared whole)."""
    before = {t.name: t for t in old.targets}
    after = {t.name: t for t in new.targets}
    changed = sum(1 for n, t in after.items() if n in before and before[n] != t)
    return len(set(before) - set(after)), changed, len(set(after) - set(before))


def write_fleet(root: str, targets: int, files: int) -> tuple[str, list[str]]:
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tls", "ca.pem")
    with open(os.path.join(root, "sbc.pass"), "w") as f:
        f.write("s3cret\n")
    with open(tests, "rb") as src, open(os.path.join(root, "ca.pem"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(root, "config.yml"), "w") as f:
        f.write("profiles:\n"
                "  sbc-xml: {family: vsxi, username: monitor, password_file: sbc.pass, tls: {ca_file: ca.pem}}\n"
                "  sbc-json: {family: vsxi, username: monitor, password_file: sbc.pass, format: json, "
                "tls: {ca_file: ca.pem}, interval: 1m}\n"
                "inventory: {files: ['inventory/*.yml']}\n")
    os.mkdir(os.path.join(root, "inventory"))
    paths = []
    per_file = targets // files
    for k in range(files):
        lines = []
        for site in range(per_file // 100):
            first = k * per_file + site * 100
            entries = ", ".join(f"sbc-{i:05d}=10.{i // 65536}.{i // 256 % 256}.{i % 256}:8888"
                                for i in range(first, first + 100))
            profile = "sbc-json" if site % 2 else "sbc-xml"
            lines.append(f"- targets: [{entries}]\n  labels: {{profile: {profile}, site: site-{k}-{site}, "
                         f"region: r{k % 4}}}\n")
        path = os.path.join(root, "inventory", f"part-{k:02d}.yml")
        with open(path, "w") as f:
            f.write("".join(lines))
        paths.append(path)
    return os.path.join(root, "config.yml"), paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", type=int, default=10_000)
    p.add_argument("--files", type=int, default=10)
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="inventory-")
    config_path, paths = write_fleet(root, a.targets, a.files)
    starts, changes, idles = [], [], []
    for run in range(3):
        t0 = time.perf_counter()
        config = load_config(config_path)
        inventory = Inventory()
        inventory.scan(config, force=True)
        full = with_inventory(config, inventory)
        first = diff(type(full)(path=""), full)
        starts.append(time.perf_counter() - t0)
        assert first == (0, 0, a.targets) and not inventory.problems(), (first, inventory.problems()[:3])

        # One line of one file changes: a target's address.
        with open(paths[3]) as f:
            text = f.read()
        moved = f"sbc-{3 * (a.targets // a.files) + 7:05d}="
        start = text.index(moved) + len(moved)
        end = text.index(",", start)
        text = text[:start] + f"10.250.0.{run + 1}:8888" + text[end:]
        with open(paths[3], "w") as f:
            f.write(text)
        t0 = time.perf_counter()
        assert inventory.scan(config) is True
        result = diff(full, with_inventory(config, inventory))
        changes.append(time.perf_counter() - t0)
        assert result == (0, 1, 0), result

        t0 = time.perf_counter()
        assert inventory.scan(config) is False
        idles.append(time.perf_counter() - t0)
    start, change, idle = statistics.median(starts), statistics.median(changes), statistics.median(idles)
    print(f"inventory: {a.targets:,} targets in {a.files} files, 2 profiles (password file, CA file); medians of 3")
    print(f"  start (read, check, diff everything)   {start:6.2f} s   goal < {GOAL_S:g} s   "
          f"{'met' if start < GOAL_S else 'MISSED'}")
    print(f"  one changed line (scan, re-read, diff) {change:6.2f} s   goal < {GOAL_S:g} s   "
          f"{'met' if change < GOAL_S else 'MISSED'}; 1 target to restart")
    print(f"  nothing changed (stat of every file)   {idle * 1000:6.1f} ms")
    return 0 if start < GOAL_S and change < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())

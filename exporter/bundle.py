"""The files shipped beside the exporter: Grafana dashboards and provisioning, Prometheus alert and recording
rules (with their promtool tests), example configs (Prometheus, Alertmanager, systemd, Kubernetes) and
config.example.yml.

A wheel carries them under exporter/bundle/ (setup.py copies them at build time); a checkout or an editable
install reads them from the repository. ``vsxi-xivo-exporter mixin --output DIR`` writes them out, ``--list``
names them, ``--print PATH`` prints one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PARTS = ("config.example.yml", "grafana", "rules", "examples")


def bundle_root() -> Path:
    packaged = PACKAGE_DIR / "bundle"
    if (packaged / "rules").is_dir():
        return packaged
    checkout = PACKAGE_DIR.parent
    if (checkout / "rules").is_dir() and (checkout / "grafana").is_dir():
        return checkout
    raise FileNotFoundError("the dashboards and rules are not installed with this copy of the exporter "
                            f"(looked in {packaged} and {checkout})")


def bundle_files(root: Path | None = None) -> list[Path]:
    """Every shipped file, relative to the bundle root, sorted."""
    root = root or bundle_root()
    out = []
    for part in PARTS:
        path = root / part
        if path.is_file():
            out.append(Path(part))
        elif path.is_dir():
            out.extend(p.relative_to(root) for p in path.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return sorted(out)


def write_bundle(output: Path) -> list[Path]:
    root = bundle_root()
    written = []
    for rel in bundle_files(root):
        target = output / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vsxi-xivo-exporter mixin",
                                description="Write or print the shipped dashboards, rules and example configs.")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--output", metavar="DIR", help="write every file under DIR (existing files replaced)")
    group.add_argument("--list", action="store_true", help="list the shipped files")
    group.add_argument("--print", dest="show", metavar="PATH", help="print one file, e.g. rules/alerts.yml")
    args = p.parse_args(argv)
    try:
        root = bundle_root()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files = bundle_files(root)
    if args.list:
        print("\n".join(str(f) for f in files))
    elif args.show:
        if Path(args.show) not in files:
            print(f"error: {args.show!r} is not a shipped file; --list shows them", file=sys.stderr)
            return 1
        sys.stdout.write((root / args.show).read_text())
    else:
        written = write_bundle(Path(args.output))
        print(f"wrote {len(written)} files under {args.output}")
    return 0

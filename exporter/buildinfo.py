"""Version, revision, branch and build date, for ``--version`` and ``vsxi_xivo_exporter_build_info``.

Where they come from, first found wins:
1. ``exporter/_build.json``, written when an image or package is built (the Dockerfile's REVISION, BRANCH and
   BUILD_DATE build arguments; ``.ci`` or a release script may write it too);
2. the git checkout the package runs from (an editable install or a clone);
3. ``unknown``.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess

from exporter import __version__

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
BUILD_FILE = os.path.join(PACKAGE_DIR, "_build.json")


def _git(*args: str) -> str:
    root = os.path.dirname(PACKAGE_DIR)
    if not os.path.exists(os.path.join(root, ".git")):
        return ""
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


@functools.lru_cache(maxsize=1)
def build_info() -> dict[str, str]:
    info = {"version": __version__, "revision": "", "branch": "", "build_date": ""}
    try:
        with open(BUILD_FILE, encoding="utf-8") as fh:
            baked = json.load(fh)
        info.update({k: str(baked[k]) for k in ("revision", "branch", "build_date") if baked.get(k)})
    except (OSError, ValueError):
        pass
    if not info["revision"]:
        info["revision"] = _git("rev-parse", "--short=12", "HEAD")
        info["branch"] = info["branch"] or _git("rev-parse", "--abbrev-ref", "HEAD")
        info["build_date"] = info["build_date"] or _git("log", "-1", "--format=%cI")
    info = {k: v or "unknown" for k, v in info.items()}
    info["python_version"] = platform.python_version()
    return info


def version_text() -> str:
    """Prometheus' --version layout."""
    i = build_info()
    return (f"vsxi-xivo-exporter, version {i['version']} (branch: {i['branch']}, revision: {i['revision']})\n"
            f"  build date:       {i['build_date']}\n"
            f"  python version:   {i['python_version']}\n"
            f"  platform:         {platform.system().lower()}/{platform.machine()}")

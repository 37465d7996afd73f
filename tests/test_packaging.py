"""What a user installs: the licence as pyproject.toml declares it, an sdist whose tests pass, a wheel that
carries the dashboards, rules and examples (and a command that writes them out), a hardened systemd unit."""

import configparser
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from exporter.bundle import bundle_files
from exporter.cli import build_parser

ROOT = Path(__file__).parent.parent
UNIT = ROOT / "examples" / "systemd" / "vsxi-xivo-exporter.service"


def test_license_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # an SPDX expression, not the deprecated table
    assert project["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    requires = project["build-system"]["requires"]
    assert any(r.startswith("setuptools>=77") and "<" in r for r in requires), requires
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    return {"wheel": wheel, "sdist": sdist, "log": log, "dir": out}


def test_build_gives_no_licence_warning(built):
    assert "License classifiers are deprecated" not in built["log"]
    assert "project.license` as a TOML table is deprecated" not in built["log"]


def test_wheel_carries_the_bundle_and_the_licence(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    for rel in bundle_files():
        assert f"exporter/bundle/{rel}" in names, rel
    for needed in ("exporter/bundle/rules/alerts.yml", "exporter/bundle/config.example.yml",
                   "exporter/bundle/grafana/dashboards/vsxi-sbc-fleet.json",
                   "exporter/bundle/examples/systemd/vsxi-xivo-exporter.service"):
        assert needed in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)[-10:]
    metadata = next(zipfile.ZipFile(built["wheel"]).read(n).decode() for n in names if n.endswith("METADATA"))
    assert "License-Expression: Apache-2.0" in metadata
    assert not any(n.startswith(("tests/", "mixin/", "bench/")) for n in names)
    # A family's monitoring/ imports mixin/: the mixin's sources, not the exporter's (what they make is bundled).
    assert not [n for n in names if "/monitoring/" in n]


def test_installed_wheel_writes_its_bundle(built, tmp_path):
    """A pip-only user: the wheel installed on its own (no checkout around it) writes the same files."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(built["wheel"])], check=True, capture_output=True)
    out = tmp_path / "bundle"
    proc = subprocess.run([sys.executable, "-m", "exporter", "mixin", "--output", str(out)], capture_output=True,
                          text=True, cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert written == bundle_files()
    assert (out / "rules/alerts.yml").read_bytes() == (ROOT / "rules/alerts.yml").read_bytes()
    shown = subprocess.run([sys.executable, "-m", "exporter", "mixin", "--print", "config.example.yml"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert shown.stdout == (ROOT / "config.example.yml").read_text()
    # The demo's HTTPS device needs its certificate from the installed package, not from a checkout.
    tls = subprocess.run([sys.executable, "-c", "from exporter.simulator.vsxi_app import demo_tls; demo_tls()"],
                         capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert tls.returncode == 0, tls.stderr[-500:]


def test_sdist_tests_pass_unpacked(built, tmp_path):
    """The sdist carries its tests and what they read; a representative set runs from the unpacked sdist
    against the sdist's own code (the whole suite there: see the README's release notes)."""
    with tarfile.open(built["sdist"]) as tar:
        tar.extractall(tmp_path, filter="data")
    root = next(tmp_path.iterdir())
    for needed in ("tests/conftest.py", "tests/fixtures", "tests/golden", "mixin/__main__.py", "LICENSE",
                   "rules/tests", ".ci/run", "config.example.yml", "README.md", "CHANGELOG.md", "CONTRIBUTING.md"):
        assert (root / needed).exists(), needed
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_repo.py",
         "tests/test_mixin.py", "tests/test_config.py", "tests/test_golden.py", "tests/test_field_answers.py",
         "tests/test_reference.py", "tests/test_docs.py"],
        cwd=root, capture_output=True, text=True, timeout=600, env={**_env(), "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout


def _env():
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


def test_systemd_unit_is_hardened_and_runs_the_cli():
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str
    unit.read_string(UNIT.read_text())
    service = unit["Service"]
    assert service["DynamicUser"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    command = shlex.split(service["ExecStart"].replace("\\\n", " "))
    build_parser().parse_args(command[1:])  # every flag the unit passes exists
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    # verify checks that ExecStart exists: point it at this machine's Python running the exporter.
    text = UNIT.read_text().replace("/opt/vsxi-xivo-exporter/bin/vsxi-xivo-exporter", f"{sys.executable} -m exporter")
    path = tmp_path / "vsxi-xivo-exporter.service"
    path.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "" and proc.stdout.strip() == "", proc.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_socket_activation_units(tmp_path):
    """The socket unit and the service's drop-in: systemd accepts them, and the drop-in runs the CLI with
    --web.systemd-socket and no port of its own."""
    dropin = UNIT.parent / "vsxi-xivo-exporter.service.d" / "socket-activation.conf"
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str
    unit.read_string(dropin.read_text())
    # The second ExecStart= (the first one empty resets the service's): the command the socket unit starts.
    command = shlex.split(dropin.read_text().split("ExecStart=")[-1].replace("\\\n", " "))
    args = build_parser().parse_args(command[1:])
    assert args.systemd_socket and args.listen is None
    assert unit["Unit"]["Requires"] == "vsxi-xivo-exporter.socket"
    for name in ("vsxi-xivo-exporter.socket", "vsxi-xivo-exporter.service"):
        text = (UNIT.parent / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/vsxi-xivo-exporter/bin/vsxi-xivo-exporter",
                                                  f"{sys.executable} -m exporter"))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "vsxi-xivo-exporter.socket")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr

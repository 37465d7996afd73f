"""The Dockerfile and compose file agree with the code (no Docker engine runs on the build machines)."""

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from exporter.cli import DEFAULT_LISTEN, build_parser

ROOT = Path(__file__).parent.parent


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_matches_the_code():
    ins = instructions()
    kinds = [k for k, _ in ins]
    port = DEFAULT_LISTEN.rsplit(":", 1)[1]
    assert kinds.count("FROM") == 2, "multi-stage"
    assert ins[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm"), "base image selectable"
    assert all(v.startswith("${PYTHON_IMAGE}") for k, v in ins if k == "FROM")
    assert ("EXPOSE", port) in ins
    user = next(v for k, v in ins if k == "USER")
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit()
    healthcheck = next(v for k, v in ins if k == "HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/-/healthy" in healthcheck
    entrypoint = yaml.safe_load(next(v for k, v in ins if k == "ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["vsxi-xivo-exporter"] and scripts["vsxi-xivo-exporter"] == "exporter.cli:main"
    cmd = yaml.safe_load(next(v for k, v in ins if k == "CMD"))
    args = build_parser().parse_args(cmd)  # the default command is valid for the CLI
    assert args.config_file == "/etc/vsxi-xivo-exporter/config.yml"
    assert "/etc/vsxi-xivo-exporter/config.yml" in (ROOT / "README.md").read_text()
    copied = [shlex.split(v)[0] for k, v in ins if k == "COPY" and not v.startswith("--from")]
    assert all((ROOT / p).exists() for p in copied), copied


def test_compose_mounts_files_that_exist():
    compose = yaml.safe_load((ROOT / "examples" / "docker-compose.yml").read_text())
    base = ROOT / "examples"
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (base / source).resolve().exists(), f"{name}: {source}"
    assert compose["services"]["exporter"]["build"]["dockerfile"] == "Dockerfile"
    assert (base / compose["services"]["exporter"]["build"]["context"] / "Dockerfile").exists()
    prometheus = yaml.safe_load((base / "prometheus" / "prometheus-metrics.yml").read_text())
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"exporter:{DEFAULT_LISTEN.rsplit(':', 1)[1]}"]
    assert re.search(r"--web.listen-address=:10188", str(compose["services"]["exporter"]["command"]))

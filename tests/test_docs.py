"""The documentation a user reads: a short README, and no link or command in any document that leads
nowhere (links resolve to files and headings that exist; command lines name flags the CLI and the benches
have)."""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import build_parser

ROOT = Path(__file__).parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md",
                    *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (not hyphens nor underscores),
    spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^(#{1,6}) (.+)$", line)
        if m and not in_code:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", path.read_text())  # not in code blocks
    return [m.group(1) for m in LINK.finditer(text)]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(doc):
    broken = []
    for target in links(doc):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not fetched (no network in the tests)
            continue
        file, _, anchor = target.partition("#")
        where = (doc.parent / file).resolve() if file else doc
        if not where.exists():
            broken.append(f"{target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target}: no heading #{anchor} in {where.relative_to(ROOT)}")
    assert broken == []


def test_the_link_checker_catches_a_broken_link(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Top\n\n## A `quoted`: heading\n\n[ok](#a-quoted-heading) [bad](#nope) [gone](gone.md)\n")
    assert links(doc) == ["#a-quoted-heading", "#nope", "gone.md"]
    assert "a-quoted-heading" in anchors(doc) and "nope" not in anchors(doc)


def commands(doc: Path) -> list[str]:
    """Command lines in a document's code (indented blocks, fences, inline code)."""
    text = doc.read_text()
    found = re.findall(r"(?m)^    ((?:python3? |vsxi-xivo-exporter|docker |UPDATE_GOLDEN).*)$", text)
    found += re.findall(r"`((?:python3? -m |python3? bench/|vsxi-xivo-exporter )[^`]*)`", text)
    return [c.split("  #")[0].strip() for c in found]


def _flags(command: str) -> list[str]:
    return [t.split("=")[0] for t in command.split() if t.startswith("--")]


CLI_FLAGS = set(build_parser()._option_string_actions) | {"--output", "--list", "--print"}  # noqa: SLF001


@functools.cache
def help_text(*program: str) -> str:
    """What ``program --help`` prints (argparse lists every option it has, generated ones included)."""
    proc = subprocess.run([sys.executable, *program, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, (program, proc.stderr[-500:])
    return proc.stdout


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_names_flags_that_exist(doc):
    wrong = []
    for command in commands(doc):
        for part in command.split("&&"):
            part = part.strip()
            if re.match(r"^(python3? -m exporter(\s|$)|vsxi-xivo-exporter)", part):
                wrong += [f"{part}: {f}" for f in _flags(part) if f not in CLI_FLAGS]
            elif m := re.match(r"^python3? (bench/\S+\.py|tests/\S+\.py)", part):
                if not (ROOT / m.group(1)).exists():
                    wrong.append(f"{part}: no {m.group(1)}")
                elif _flags(part):
                    text = help_text(m.group(1))
                    wrong += [f"{part}: {f}" for f in _flags(part) if f not in text]
            elif m := re.match(r"^python3? -m ([\w.]+)", part):
                module = m.group(1)
                if module in ("pytest", "pip", "venv", "build"):
                    continue
                path = ROOT / module.replace(".", "/")
                if not (path / "__main__.py").exists() and not path.with_suffix(".py").exists():
                    wrong.append(f"{part}: no module {module}")
                elif _flags(part):
                    text = help_text("-m", module)
                    wrong += [f"{part}: {f}" for f in _flags(part) if f not in text]
    assert wrong == []


def test_the_command_checker_catches_a_flag_the_cli_does_not_have(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("    vsxi-xivo-exporter --config.file x.yml --web.listen-adress :1\n")
    assert commands(doc) == ["vsxi-xivo-exporter --config.file x.yml --web.listen-adress :1"]
    assert [f for f in _flags(commands(doc)[0]) if f not in CLI_FLAGS] == ["--web.listen-adress"]

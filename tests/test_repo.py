"""Promises the repository makes: README's commands, CI running exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line.strip().split("  #")[0].strip() for line in lines[2:4]]


def test_readme_opens_with_demo_and_test_commands():
    demo, tests = readme_commands()
    assert demo == "python3 -m pip install . && python3 -m exporter --demo"
    assert "pytest" in tests and "pip install" in tests and "prometheus prometheus-alertmanager" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_nothing_cites_a_file_outside_the_repository():
    """What the project knows of the device APIs is in docs/device-apis.md: a user of the wheel or of the
    repository has no notes folder beside it, so no file may send them to one."""
    outside = ("shared" + "/reference", "../" + "shared/")  # spelled apart: this file is read too
    offenders = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if not path.is_file() or parts[0] in (".git", "build", "dist") or ".egg-info" in parts[0] \
                or "__pycache__" in parts or path.suffix in (".png", ".gz", ".whl", ".pyc"):
            continue
        text = path.read_text(errors="replace")
        if any(o in text for o in outside):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], offenders

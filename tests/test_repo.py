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

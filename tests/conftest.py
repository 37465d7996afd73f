import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings
from prometheus_client import CollectorRegistry, generate_latest

# Hypothesis: in CI the same examples every run (derandomized: a failure there is reproducible and never a new
# draw's luck); locally new examples each run, so the search goes on.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# A test skipped in CI fails the run unless its reason is listed here, with why the skip is acceptable.
# Empty: every test's tools are installed by .ci/run.
ALLOWED_SKIPS: dict[str, str] = {}

FIXTURES = Path(__file__).parent / "fixtures" / "vsxi"
GOLDEN = Path(__file__).parent / "golden"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FamiliesCollector:
    def __init__(self, families):
        self.families = list(families)

    def collect(self):
        return iter(self.families)


def encode(families) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FamiliesCollector(families))
    return generate_latest(registry)


def promtool_check(exposition: bytes) -> None:
    """Fail unless `promtool check metrics` accepts the exposition (promtool is required, never skipped)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (.ci/run does)"
    proc = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


@pytest.fixture
def check_metrics():
    return promtool_check


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skip is a failure unless ALLOWED_SKIPS names its reason: a missing tool must not pass as green."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason not in ALLOWED_SKIPS:
            report.outcome = "failed"
            report.longrepr = (f"skipped in CI ({reason}); install what it needs in .ci/run, or list the reason in "
                               "ALLOWED_SKIPS (tests/conftest.py) with why")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The random order's seed, also under -q (which hides pytest-randomly's header): a failure in CI can be
    replayed with ``-p randomly --randomly-seed=N``."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line(f"random order: --randomly-seed={seed}")

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

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

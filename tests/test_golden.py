"""Golden expositions: the exact text each table produces from a device answer written by hand
(tests/fixtures/vsxi/device/, whose samples tests/test_device_truth.py works out by hand), and promtool's
verdict on it. Never built from the simulator's answers: a misreading shared by the simulator and the parser
would be written into the golden file.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and
review the diff: these names and labels are what dashboards and alerts depend on.
"""

import os

import pytest
from conftest import FIXTURES, GOLDEN, encode, fixture

from exporter.catalog import Builder, merge
from exporter.simulator.vsxi_model import TABLES
from exporter.vsxi.collectors import COLLECTORS

QUIRKS = {"realtime_quirks": ("realtime", "quirks/realtime_nil.xml"),
          "media_server_quirks": ("media_server", "quirks/media_server_single.json")}


DEVICE = FIXTURES / "device"


def device_answer(table: str) -> bytes:
    """The old-layout XML answer where the table has layouts (mysqldump), else the XML bean list."""
    path = DEVICE / f"{table}.old.xml"
    return (path if path.exists() else DEVICE / f"{table}.xml").read_bytes()


def families(table: str, body: bytes, target: str = "sbc-golden"):
    b = Builder()
    COLLECTORS[table].build(b, target, COLLECTORS[table].parse(body))
    return b.families()


def check_golden(name: str, text: bytes) -> None:
    path = GOLDEN / f"{name}.prom"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text.decode() == path.read_text()


@pytest.mark.parametrize("table", TABLES)
def test_golden_exposition(table, check_metrics):
    text = encode(families(table, device_answer(table)))
    check_golden(table, text)
    check_metrics(text)


@pytest.mark.parametrize("name", QUIRKS)
def test_golden_quirks(name, check_metrics):
    table, path = QUIRKS[name]
    text = encode(families(table, fixture(path)))
    check_golden(name, text)
    check_metrics(text)


def test_two_targets_merge_into_valid_exposition(check_metrics):
    lists = [families(t, device_answer(t), target) for target in ("sbc-a", "sbc-b") for t in TABLES]
    text = encode(merge(lists))
    check_metrics(text)
    assert text.count(b"# TYPE vsxi_up ") == 0  # status metrics come from the engine, not the tables
    assert text.count(b"# TYPE vsxi_system_active_sessions gauge") == 1
    assert b'vsxi_system_active_sessions{target="sbc-a"}' in text and b'{target="sbc-b"}' in text

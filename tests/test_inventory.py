"""Targets from inventory files (file_sd shape): read, checked, re-read on change, a broken file keeping its last
good targets; only changed targets restarted."""

import asyncio
import logging
import os

from conftest import promtool_check
from helpers import PASSWORD, make_target, sample

from exporter.config import load_config
from exporter.engine import Engine
from exporter.inventory import Inventory, with_inventory
from exporter.reload import Reloader
from exporter.web.app import create_app

PROFILES = f"""profiles:
  sbc-lab: {{family: vsxi, username: monitor, password: {PASSWORD}, collectors: [realtime], interval: 5s,
            timeout: 2s, labels: {{region: emea}}}}
"""


def write_config(tmp_path, extra: str = "", refresh: str = "1s") -> str:
    path = tmp_path / "config.yml"
    path.write_text(PROFILES + f"inventory: {{files: ['inventory/*.yml'], refresh_interval: {refresh}}}\n" + extra)
    (tmp_path / "inventory").mkdir(exist_ok=True)
    return str(path)


def write_inventory(tmp_path, name: str, text: str) -> str:
    path = tmp_path / "inventory" / name
    path.write_text(text)
    # A second write within the file system's timestamp resolution must still be seen: the size or the
    # inode usually differs, and tests move the clock on to be sure.
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    return str(path)


def test_entries_read_as_targets_of_their_profile(tmp_path):
    config = load_config(write_config(tmp_path, "vsxi:\n  - {name: sbc-own, url: 'http://h', username: u, "
                                                "password: p}\n"))
    write_inventory(tmp_path, "atl.yml", """
- targets: [sbc-atl-1=192.0.2.10:8888, "sbc-atl-2=http://192.0.2.11:8888", 192.0.2.12]
  labels: {profile: sbc-lab, site: atl, region: amer}
""")
    inventory = Inventory()
    assert inventory.scan(config) is True
    a1, a2, a3 = inventory.targets()
    assert (a1.name, a1.url, a1.username, a1.collectors, a1.interval, a1.profile) == (
        "sbc-atl-1", "https://192.0.2.10:8888", "monitor", ("realtime",), 5.0, "sbc-lab")
    assert a1.labels == (("region", "amer"), ("site", "atl"))  # the file's labels win over the profile's
    assert a2.url == "http://192.0.2.11:8888" and (a3.name, a3.url) == ("192.0.2.12", "https://192.0.2.12")
    assert [t.name for t in with_inventory(config, inventory).targets] == ["sbc-own", "sbc-atl-1", "sbc-atl-2",
                                                                            "192.0.2.12"]
    assert inventory.scan(config) is False  # nothing changed: not even read again


def test_problems_name_the_file_and_the_entry(tmp_path, caplog):
    config = load_config(write_config(tmp_path, "vsxi:\n  - {name: sbc-own, url: 'http://h', username: u, "
                                                "password: p}\n"))
    bad = write_inventory(tmp_path, "bad.yml", """
- targets: [sbc-1=http://192.0.2.1, 7, "sbc-own=http://192.0.2.2", "bad name=http://192.0.2.3"]
  labels: {profile: sbc-lab, job: x}
- targets: [sbc-2=http://192.0.2.4]
- targets: [sbc-3=http://192.0.2.5]
  labels: {profile: nowhere}
""")
    inventory = Inventory()
    with caplog.at_level(logging.ERROR, "exporter.inventory"):
        inventory.scan(config)
        inventory.scan(config, force=True)  # the same problems: logged once
    assert inventory.files[bad].ok is False and inventory.targets() == ()
    assert list(inventory.files[bad].problems) == [
        f"{bad}: [0].labels.job: reserved label name (the exporter's or Prometheus' own: target, family, profile, "
        "job, instance)",
        f"{bad}: [0].targets[1]: expected NAME=ADDRESS, got integer",
        f"{bad}: [0].targets[2]: duplicate target name 'sbc-own' (also config.yml)",
        f"{bad}: [0].targets[3].name: expected letters, digits and _.:- (at most 63), got 'bad name'",
        f"{bad}: [1].labels.profile: every inventory target needs a profile (its family, credentials and "
        "settings: an inventory holds no secret)",
        f"{bad}: [2].labels.profile: unknown profile 'nowhere' (defined: sbc-lab)",
    ]
    assert len([r for r in caplog.records if r.getMessage().startswith("inventory file not applied")]) == 1
    write_inventory(tmp_path, "yaml.yml", "- targets: [a\n")
    inventory.scan(config)
    problem = inventory.files[str(tmp_path / "inventory" / "yaml.yml")].problems[0]
    assert problem.startswith(f"{tmp_path / 'inventory' / 'yaml.yml'}: line ") and "invalid YAML" in problem


def test_a_name_in_two_files_is_refused_in_the_second(tmp_path):
    config = load_config(write_config(tmp_path))
    write_inventory(tmp_path, "a.yml", "- {targets: [sbc-1=http://192.0.2.1], labels: {profile: sbc-lab}}\n")
    write_inventory(tmp_path, "b.yml", "- {targets: [sbc-1=http://192.0.2.2, sbc-2=http://192.0.2.3], "
                                       "labels: {profile: sbc-lab}}\n")
    inventory = Inventory()
    inventory.scan(config)
    assert [t.url for t in inventory.targets()] == ["http://192.0.2.1"]  # b.yml not applied as a whole
    assert inventory.files[str(tmp_path / "inventory" / "b.yml")].problems == (
        f"{tmp_path / 'inventory' / 'b.yml'}: [0].targets[0]: duplicate target name 'sbc-1' (also a.yml)",)


def test_a_changed_file_taking_a_name_of_an_unchanged_one_is_refused(tmp_path):
    """b.yml has sbc-9; a.yml (read first, by name) is edited to add sbc-9 too: a.yml is the one refused (the
    conflict is what changed), b.yml keeps it, and the names stay unique."""
    config = load_config(write_config(tmp_path))
    write_inventory(tmp_path, "a.yml", "- {targets: [sbc-1=http://192.0.2.1], labels: {profile: sbc-lab}}\n")
    write_inventory(tmp_path, "b.yml", "- {targets: [sbc-9=http://192.0.2.9], labels: {profile: sbc-lab}}\n")
    inventory = Inventory()
    inventory.scan(config)
    a = write_inventory(tmp_path, "a.yml", "- {targets: [sbc-1=http://192.0.2.1, sbc-9=http://192.0.2.99], "
                                           "labels: {profile: sbc-lab}}\n")
    assert inventory.scan(config) is False  # a.yml refused: nothing changed
    assert inventory.files[a].problems == (f"{a}: [0].targets[1]: duplicate target name 'sbc-9' (also b.yml)",)
    names = [t.name for t in with_inventory(config, inventory).targets]
    assert names == ["sbc-1", "sbc-9"] and [t.url for t in inventory.targets()][1] == "http://192.0.2.9"


async def test_changes_are_applied_without_a_restart(aiohttp_server, aiohttp_client, tmp_path, caplog):
    """Added, changed and removed targets from an edited file, only the changed ones restarted; a broken file
    keeps its last good targets and says so in a self-metric; the watch picks a change up by itself."""
    sims = [await make_target(aiohttp_server, name=f"sbc-{i}") for i in range(3)]
    urls = [t.url for _, t in sims]
    path = write_config(tmp_path)
    inv = write_inventory(tmp_path, "lab.yml", f"- {{targets: [sbc-0={urls[0]}, sbc-1={urls[1]}], "
                                               "labels: {profile: sbc-lab, site: a}}\n")
    file_config = load_config(path)
    inventory = Inventory()
    inventory.scan(file_config)
    engine = Engine(with_inventory(file_config, inventory))
    reloader = Reloader(engine, lambda: load_config(path), file_config, inventory,
                        lambda c: with_inventory(c, inventory))
    client = await aiohttp_client(create_app(engine, manage_engine=False, reloader=reloader))
    try:
        await engine.poll_once()
        kept = engine.pollers["sbc-0"]
        text = await (await client.get("/metrics")).text()
        assert sample(text, "vsxi_xivo_exporter_inventory_file_ok", file=inv) == 1
        assert sample(text, "vsxi_xivo_exporter_inventory_file_targets", file=inv) == 2

        # sbc-1 moves to another site (a changed label is a changed target), sbc-2 is added.
        write_inventory(tmp_path, "lab.yml", f"- {{targets: [sbc-0={urls[0]}], labels: {{profile: sbc-lab, "
                                             f"site: a}}}}\n- {{targets: [sbc-1={urls[1]}, sbc-2={urls[2]}], "
                                             "labels: {profile: sbc-lab, site: b}}\n")
        changes = await reloader.refresh_inventory()
        assert (changes.removed, changes.changed, changes.added) == ((), ("sbc-1",), ("sbc-2",))
        assert engine.pollers["sbc-0"] is kept
        assert await reloader.refresh_inventory() is None  # nothing changed since

        # A broken file: every target it gave stays, the metric says so.
        write_inventory(tmp_path, "lab.yml", "- {targets: [sbc-0=nowhere:port], labels: {profile: sbc-lab}}\n")
        assert await reloader.refresh_inventory() is None
        assert set(engine.pollers) == {"sbc-0", "sbc-1", "sbc-2"}
        await engine.poll_once()
        text = await (await client.get("/metrics")).text()
        promtool_check(text.encode())
        assert sample(text, "vsxi_xivo_exporter_inventory_file_ok", file=inv) == 0
        assert sample(text, "vsxi_xivo_exporter_inventory_file_targets", file=inv) == 3
        assert sample(text, "vsxi_xivo_target_info", target="sbc-2", family="vsxi", profile="sbc-lab", site="b",
                      region="emea") == 1

        # Fixed with sbc-2 removed; picked up by the watch, on its own (refresh_interval 1s).
        write_inventory(tmp_path, "lab.yml", f"- {{targets: [sbc-0={urls[0]}], labels: {{profile: sbc-lab, "
                                             f"site: a}}}}\n- {{targets: [sbc-1={urls[1]}], "
                                             "labels: {profile: sbc-lab, site: b}}\n")
        watch = asyncio.create_task(reloader.watch_inventory())
        try:
            await wait_for_async(lambda: "sbc-2" not in engine.pollers, 10, "sbc-2 removed by the watch")
        finally:
            watch.cancel()
        assert engine.pollers["sbc-0"] is kept
        text = await (await client.get("/metrics")).text()
        assert sample(text, "vsxi_xivo_exporter_inventory_file_ok", file=inv) == 1

        # The file removed: its targets go, and its series.
        os.unlink(inv)
        changes = await reloader.refresh_inventory()
        assert set(changes.removed) == {"sbc-0", "sbc-1"} and engine.pollers == {}
        text = await (await client.get("/metrics")).text()
        assert sample(text, "vsxi_xivo_exporter_inventory_file_ok", file=inv) is None
    finally:
        await engine.stop()


async def wait_for_async(check, timeout: float, what: str) -> None:
    """helpers.wait_for, on the event loop: the engine under test runs on it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_config_check_reads_the_inventory(tmp_path):
    """--config.check fails on a broken inventory file, naming it, as on a broken configuration."""
    import subprocess
    import sys

    path = write_config(tmp_path)
    write_inventory(tmp_path, "a.yml", "- {targets: [sbc-1=http://192.0.2.1, sbc-2=http://192.0.2.2], "
                                       "labels: {profile: sbc-lab}}\n")
    run = [sys.executable, "-m", "exporter", "--config.check", "--config.file", path]
    ok = subprocess.run(run, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout.strip()) == (0, f"{path}: OK, 2 VSXi and 0 XiVO target(s) (1 inventory file(s))")
    broken = write_inventory(tmp_path, "b.yml", "- {targets: [sbc-1=http://192.0.2.9], labels: {profile: sbc-lab}}\n")
    bad = subprocess.run(run, capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"{broken}: [0].targets[0]: duplicate target name 'sbc-1' (also a.yml)"


def test_the_running_exporter_follows_its_inventory(tmp_path):
    """The exporter as started from the command line: an edited inventory file is picked up by the watch
    (refresh_interval 1s) with no signal nor restart: a target added shows in /sd, a broken file keeps it."""
    import json
    import urllib.request

    from helpers import Exporter, refused_port, wait_for

    path = write_config(tmp_path)
    with refused_port() as port:
        address = f"http://127.0.0.1:{port}"
        write_inventory(tmp_path, "a.yml", f"- {{targets: [sbc-1={address}], labels: {{profile: sbc-lab}}}}\n")
        exporter = Exporter("--config.file", path)
        try:
            def listed() -> list[str]:
                with urllib.request.urlopen(exporter.url + "/sd", timeout=5) as resp:
                    return sorted(t for group in json.load(resp) for t in group["targets"])

            assert listed() == ["sbc-1"]
            write_inventory(tmp_path, "a.yml", f"- {{targets: [sbc-1={address}, sbc-2={address}], "
                                               "labels: {profile: sbc-lab, site: b}}\n")
            wait_for(lambda: listed() == ["sbc-1", "sbc-2"], 15, "sbc-2 listed")
            write_inventory(tmp_path, "a.yml", "- {targets: [sbc-3=http://h], labels: {profile: nowhere}}\n")
            wait_for(lambda: "inventory file not applied" in exporter.stderr(), 15, "the broken file logged")
            assert listed() == ["sbc-1", "sbc-2"]
        finally:
            exporter.stop()

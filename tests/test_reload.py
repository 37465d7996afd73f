"""Configuration reload: what changes and what stays, over POST /-/reload and SIGHUP."""

import os
import re
import signal
import urllib.request

from conftest import promtool_check
from helpers import PASSWORD, Exporter, make_engine, make_target, make_xivo, refused_port, sample, wait_for

from exporter.config import load_config
from exporter.reload import Reloader
from exporter.web.app import create_app


def sbc_entry(name: str, url: str, **extra) -> str:
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"  - {{name: {name}, url: '{url}', username: monitor, password: {PASSWORD}{more}}}\n"


async def test_reload_keeps_unchanged_targets_and_replaces_the_rest(aiohttp_server, aiohttp_client, tmp_path):
    _, a = await make_target(aiohttp_server, name="sbc-a", collectors=("realtime",))
    _, b = await make_target(aiohttp_server, name="sbc-b", collectors=("realtime",))
    _, c = await make_target(aiohttp_server, name="sbc-c", collectors=("realtime",))
    xsim, pbx, runners = await make_xivo("xivo16", collectors=["agents"])
    path = tmp_path / "config.yml"
    path.write_text("vsxi:\n" + sbc_entry("sbc-a", a.url, collectors="[realtime]", interval="5s", timeout="2s")
                    + sbc_entry("sbc-b", b.url, collectors="[realtime]", interval="5s", timeout="2s"))
    engine = make_engine(a, b, pbx)
    reloader = Reloader(engine, lambda: load_config(str(path)))
    client = await aiohttp_client(create_app(engine, manage_engine=False, reloader=reloader))
    try:
        await engine.poll_once()
        kept = engine.pollers["sbc-a"]

        # sbc-b changes (another interval), pbx-xivo16 is removed, sbc-c is new; sbc-a is identical.
        path.write_text("vsxi:\n" + sbc_entry("sbc-a", a.url, collectors="[realtime]", interval="5s", timeout="2s")
                        + sbc_entry("sbc-b", b.url, collectors="[realtime]", interval="6s", timeout="2s")
                        + sbc_entry("sbc-c", c.url, collectors="[realtime]"))
        resp = await client.post("/-/reload")
        assert (resp.status, await resp.text()) == (200, "removed: pbx-xivo16\nchanged: sbc-b\nadded: sbc-c\n")
        assert engine.pollers["sbc-a"] is kept and engine.states["sbc-a"].rounds == 1  # untouched
        assert engine.states["sbc-b"].rounds == 0  # restarted
        assert "pbx-xivo16" not in engine.states
        assert len(xsim.revoked) == 1 and xsim.tokens == {}  # the removed PBX's token was revoked
        text = await (await client.get("/metrics")).text()
        promtool_check(text.encode())
        assert sample(text, "vsxi_up", target="sbc-a") == 1
        assert sample(text, "xivo_up", target="pbx-xivo16") is None
        assert sample(text, "vsxi_xivo_exporter_targets", family="xivo") == 0
        assert sample(text, "vsxi_xivo_exporter_config_last_reload_successful") == 1

        # A bad file changes nothing and says why.
        path.write_text("vsxi:\n  - {name: sbc-a}\n")
        resp = await client.post("/-/reload")
        assert resp.status == 500
        assert await resp.text() == f"{path}: vsxi[0].url: missing required key\n{path}: vsxi[0].username: missing " \
                                    f"required key\n{path}: vsxi[0]: exactly one of password or password_file is " \
                                    "required\n"
        assert set(engine.pollers) == {"sbc-a", "sbc-b", "sbc-c"}
        text = await (await client.get("/metrics")).text()
        assert sample(text, "vsxi_xivo_exporter_config_last_reload_successful") == 0
        # A file that is not UTF-8: the same, not a traceback.
        path.write_bytes(b"vsxi: []\n# \xff\n")
        resp = await client.post("/-/reload")
        assert (resp.status, await resp.text()) == (500, f"{path}: not UTF-8 text (byte 0xff at offset 11); save it "
                                                         "as UTF-8\n")
        assert set(engine.pollers) == {"sbc-a", "sbc-b", "sbc-c"}
        assert (await client.get("/-/reload")).status == 405
    finally:
        await engine.stop()
        for r in runners:
            await r.cleanup()


async def test_reload_is_refused_in_demo_mode(aiohttp_client):
    engine = make_engine()
    client = await aiohttp_client(create_app(engine, manage_engine=False))
    resp = await client.post("/-/reload")
    assert resp.status == 400 and "not available with --demo" in await resp.text()


def test_sighup_reloads_a_running_exporter(tmp_path):
    with refused_port() as dead:
        path = tmp_path / "config.yml"
        path.write_text("vsxi:\n" + sbc_entry("sbc-one", f"http://127.0.0.1:{dead}", interval="1s",
                                              timeout="500ms"))
        exporter = Exporter("--config.file", str(path))
        url = f"{exporter.url}/metrics"

        def scrape_until(check):
            def scraped() -> str | None:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
                return text if check(text) else None
            return wait_for(scraped, 30, "the expected series")

        def polls(text: str) -> float:
            return sample(text, "vsxi_xivo_exporter_polls_total", target="sbc-two", collector="realtime") or 0

        try:
            scrape_until(lambda t: sample(t, "vsxi_up", target="sbc-one") == 0)
            path.write_text(path.read_text() + sbc_entry("sbc-two", f"http://127.0.0.1:{dead}", interval="1s",
                                                         timeout="500ms"))
            os.kill(exporter.proc.pid, signal.SIGHUP)
            scrape_until(lambda t: sample(t, "vsxi_up", target="sbc-two") is not None)
            path.write_text("vsxi: [\n")
            os.kill(exporter.proc.pid, signal.SIGHUP)
            text = scrape_until(lambda t: sample(t, "vsxi_xivo_exporter_config_last_reload_successful") == 0)
            # Still polling the last good configuration: sbc-two's rounds go on after the failed reload.
            before = polls(text)
            scrape_until(lambda t: polls(t) >= before + 2)
        finally:
            exporter.stop()
    err = exporter.stderr()
    assert re.search(r'msg="configuration reloaded" removed=- changed=- added=sbc-two', err)
    assert re.search(r'level=error .*msg="configuration reload failed; keeping the running configuration" '
                     r'problems=".*invalid YAML', err)

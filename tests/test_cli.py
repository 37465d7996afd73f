"""The command line and the demo, run as real subprocesses."""

import json
import re
import subprocess
import sys
import time
import urllib.request

from helpers import sample

from exporter import __version__

EXE = [sys.executable, "-m", "exporter"]


def run(*args, timeout=30):
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=timeout)


def test_version_names_revision_and_build_date():
    proc = run("--version")
    revision = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              cwd=__file__.rsplit("/tests/", 1)[0]).stdout.strip()
    first, *rest = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert first.startswith(f"vsxi-xivo-exporter, version {__version__} (branch: ")
    assert f"revision: {revision or 'unknown'})" in first
    assert re.match(r"  build date: +(\d{4}-\d\d-\d\dT|unknown)", rest[0]), rest


def test_build_info_metric_carries_the_revision():
    from exporter.buildinfo import build_info
    from exporter.selfmetrics import SelfMetrics

    text = __import__("prometheus_client").generate_latest(SelfMetrics().registry).decode()
    line = next(x for x in text.splitlines() if x.startswith("vsxi_xivo_exporter_build_info{"))
    for key in ("version", "revision", "branch", "build_date", "python_version"):
        assert f'{key}="{build_info()[key]}"' in line


def test_config_check_reports_every_problem(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("vsxi:\n  - {name: a, url: 'ftp://x', username: u}\n  - {name: a, url: 'http://h', "
                    "username: u, password: p, interval: 1x}\n")
    proc = run("--config.check", "--config.file", str(path))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"{path}: vsxi[0].url: expected an http:// or https:// URL with a host, got 'ftp://x'",
        f"{path}: vsxi[0]: exactly one of password or password_file is required",
        f"{path}: vsxi[1].interval: expected a duration like 15s, 2m or 500ms, got '1x'",
        f"{path}: vsxi[1].name: duplicate target name 'a' (also vsxi[0])",
    ]


def test_config_check_ok(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("vsxi:\n  - {name: a, url: 'http://h', username: u, password: p}\n")
    proc = run("--config.check", "--config.file", str(path))
    assert (proc.returncode, proc.stdout.strip()) == (0, f"{path}: OK, 1 VSXi and 0 XiVO target(s)")


def test_bad_config_refuses_to_start(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("vsxi: [{name: a}]\n")
    proc = run("--config.file", str(path), "--web.listen-address", "127.0.0.1:0")
    assert proc.returncode == 1
    assert f"{path}: vsxi[0].url: missing required key" in proc.stderr


def test_bad_listen_address():
    proc = run("--demo", "--web.listen-address", "localhost")
    assert proc.returncode == 2
    assert "invalid --web.listen-address 'localhost': expected [host]:port" in proc.stderr


def test_demo_is_up_within_5_seconds(check_metrics):
    proc = subprocess.Popen([*EXE, "--demo", "--web.listen-address", "127.0.0.1:0", "--log.format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        line = proc.stdout.readline()
        url = re.search(r"metrics at (\S+)", line).group(1)
        text = ""
        while time.monotonic() - started < 5:
            text = urllib.request.urlopen(url, timeout=2).read().decode()
            status = [line for line in text.splitlines() if line.startswith(
                ("vsxi_up{", "vsxi_collector_success{", "xivo_up{", "xivo_collector_success{"))]
            if len(status) == 16 + 14 and all(line.endswith(" 1.0") for line in status):
                break
            time.sleep(0.2)
        for target in ("sbc-demo-xml", "sbc-demo-json"):
            assert sample(text, "vsxi_up", target=target) == 1, text[:2000]
            for c in ("realtime", "resource", "resource_detail", "sip_stats", "sub_stats", "active_calls",
                      "media_server"):
                assert sample(text, "vsxi_collector_success", target=target, collector=c) == 1
        for target in ("pbx-demo-xivo16", "pbx-demo-wazo"):
            assert sample(text, "xivo_up", target=target) == 1, text[:2000]
            for c in ("objects", "devices", "agents", "queues", "channels", "sip"):
                assert sample(text, "xivo_collector_success", target=target, collector=c) == 1
        check_metrics(text.encode())
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert '"msg": "listening"' in err and '"msg": "shutting down"' in err
    assert '"level": "warn"' not in err and '"level": "error"' not in err


def test_bad_shard():
    proc = run("--demo", "--config.shard", "2/2")
    assert proc.returncode == 2
    assert "invalid --config.shard '2/2': expected INDEX/TOTAL with 0 <= INDEX < TOTAL" in proc.stderr


def test_shards_partition_the_targets(tmp_path):
    from exporter.config import hashmod, load_config

    path = tmp_path / "c.yml"
    path.write_text("vsxi:\n" + "".join(f"  - {{name: sbc-{i}, url: 'http://h', username: u, password: p}}\n"
                                          for i in range(20)))
    config = load_config(str(path))
    shards = [config.shard(i, 3) for i in range(3)]
    names = [t.name for s in shards for t in s.of_family("vsxi")]
    assert sorted(names) == sorted(t.name for t in config.of_family("vsxi"))  # each target in exactly one shard
    assert all(s.of_family("vsxi") for s in shards)
    # Prometheus' own hashmod of "sbc-demo-json" by 2 is 0 (tests/test_e2e.py proves the routing live).
    assert hashmod("sbc-demo-json", 2) == 0


def test_standalone_pbx_simulator():
    proc = subprocess.Popen([*EXE[:1], "-m", "exporter.simulator", "--pbx", "wazo", "--password", "pw"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("wazo simulator; a xivo target for it (username exporter")
        lines = []
        while not lines or lines[-1] != "}\n":
            lines.append(proc.stdout.readline())
        url = json.loads("".join(lines))["url"]
        request = urllib.request.Request(f"{url}/api/auth/0.1/token", data=b'{"backend": "wazo_user"}',
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": "Basic ZXhwb3J0ZXI6cHc="})
        assert '"token"' in urllib.request.urlopen(request, timeout=5).read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sighup_does_not_end_the_demo():
    import signal

    from helpers import Exporter, wait_for

    exporter = Exporter("--demo")
    try:
        exporter.proc.send_signal(signal.SIGHUP)
        # The exporter says it handled the signal (or it ended: asserted just below).
        wait_for(lambda: "SIGHUP ignored" in exporter.stderr() or exporter.proc.poll() is not None, 30,
                 "the SIGHUP log line")
        assert exporter.proc.poll() is None, "the demo ended on SIGHUP"
        assert urllib.request.urlopen(f"{exporter.url}/metrics", timeout=5).status == 200
    finally:
        code = exporter.stop()
    assert code == 0
    assert 'msg="SIGHUP ignored: reloading needs --config.file (not available with --demo)"' in exporter.stderr()


async def test_shutdown_is_quick_when_a_pbx_hangs(tmp_path):
    """A container runtime sends SIGTERM and kills ~10 s later: a PBX that hangs for a minute (its token
    revocation included) must not hold the exporter anywhere near that long."""
    import asyncio
    import signal

    from helpers import make_xivo

    sim, target, runners = await make_xivo("wazo")
    config = tmp_path / "config.yml"
    config.write_text(f"xivo:\n- name: pbx\n  url: {target.url}\n  api_gateway: true\n  username: exporter\n"
                      f"  password: xivo-Pw7\n  backend: wazo_user\n  interval: 2s\n  timeout: 1s\n")
    proc = await asyncio.create_subprocess_exec(*EXE, "--config.file", str(config), "--web.listen-address",
                                                "127.0.0.1:0", stderr=asyncio.subprocess.PIPE)
    loop = asyncio.get_running_loop()

    async def until(check, what: str):
        deadline = loop.time() + 30
        while not check():
            assert proc.returncode is None, (await proc.stderr.read()).decode()[-2000:]
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    try:
        await until(lambda: sim.tokens, "a token")
        sim.faults.latency = 60.0  # every request hangs from now on, the token revocation at shutdown included
        asked = len(sim.log)
        await until(lambda: len(sim.log) > asked, "a request hanging in the PBX")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        elapsed = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for runner in runners:
            await runner.cleanup()
    assert proc.returncode == 0
    # The revocation waits 1 s at most (REVOKE_TIMEOUT), the hung poll not at all: far from the 60 s hang and
    # under a container runtime's 10 s.
    assert elapsed < 5.0, f"shutdown took {elapsed:.1f}s"


def _execd_workers(pid: int) -> list[int]:
    """The children of ``pid`` if each of them runs the parse worker's bootstrap by now, else []."""
    from helpers import children

    kids = children(pid)
    for kid in kids:
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if b"serve_fds" not in f.read():
                    return []
        except FileNotFoundError:
            return []
    return kids


def test_systemd_socket_activation(tmp_path):
    """--web.systemd-socket serves on the socket systemd passes, as systemd passes it: already listening on
    file descriptor 3, LISTEN_PID set to the exporter's own pid and LISTEN_FDS to 1. The port is the socket's;
    the variables do not reach the parse workers."""
    import os
    import socket

    from helpers import Exporter, refused_port, wait_for

    config = tmp_path / "config.yml"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]

    def as_systemd_does():  # in the child, before exec
        os.dup2(listener.fileno(), 3)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "1"

    with refused_port() as dead:  # a device, so that the parse workers start
        config.write_text(f"vsxi:\n  - {{name: sbc-1, url: 'http://127.0.0.1:{dead}', username: u, password: p}}\n")
        exporter = Exporter("--config.file", str(config), "--web.systemd-socket", preexec_fn=as_systemd_does,
                            pass_fds=(3,))
        try:
            assert exporter.url == f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(exporter.url + "/-/healthy", timeout=5) as resp:
                assert resp.status == 200
            # A child is a parse worker once it has exec'd its bootstrap: between fork and exec it still shows
            # the exporter's own environment as it started, LISTEN_FDS included (seen in CI).
            workers = wait_for(lambda: _execd_workers(exporter.proc.pid), 20, "the parse workers started")
            for child in workers:
                with open(f"/proc/{child}/environ", "rb") as f:
                    assert b"LISTEN_FDS=" not in f.read()
        finally:
            exporter.stop()
            listener.close()
    alone = subprocess.run([sys.executable, "-m", "exporter", "--config.file", str(config),
                            "--web.systemd-socket"], capture_output=True, text=True, timeout=30)
    assert alone.returncode == 1
    assert alone.stderr.strip() == ("--web.systemd-socket: no socket passed (LISTEN_PID and LISTEN_FDS are not "
                                    "set); start the exporter through its .socket unit, or listen with "
                                    "--web.listen-address")


def test_sigterm_to_the_whole_process_group_is_a_clean_stop():
    """systemd's default KillMode (control-group), `kill -TERM -PGID` and some container runtimes send SIGTERM to
    every process of the exporter at once: the parse workers leave it to the main process, which stops them
    itself, so the stop is clean: no "parse worker exited; starting another", no worker left behind."""
    import os
    import signal

    from helpers import Exporter, children, wait_for

    with Exporter("--demo", preexec_fn=os.setsid) as exporter:
        workers = wait_for(lambda: children(exporter.proc.pid), 30, "the parse workers")
        wait_for(lambda: urllib.request.urlopen(exporter.url + "/-/ready").status == 200, 30, "a first round")
        os.killpg(exporter.proc.pid, signal.SIGTERM)
        assert exporter.proc.wait(15) == 0
    assert "parse worker exited" not in exporter.stderr(), exporter.stderr()[-2000:]
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2], pid

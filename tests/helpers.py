"""Shared setup for tests that run the exporter against simulators over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

from exporter.config import Config
from exporter.engine import Engine
from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.simulator.vsxi_model import Scale
from exporter.vsxi.config import VsxiTarget

PASSWORD = "pw-Zq81"  # distinctive, so a leak into logs or metrics is easy to spot
SMALL = Scale(trunks=3, registrations=30, calls=12, media_servers=2, nodes=1)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def make_target(aiohttp_server, name="sbc-1", faults=None, layout="old", password=PASSWORD,
                      scale=SMALL, **target) -> tuple[VsxiSimulator, VsxiTarget]:
    sim = VsxiSimulator(username="monitor", password=PASSWORD, layout=layout, scale=scale, faults=faults)
    server = await aiohttp_server(sim.app())
    options = {"interval": 5.0, "timeout": 2.0, **target}
    return sim, VsxiTarget(name=name, url=str(server.make_url("")).rstrip("/"), username="monitor",
                           password=password, **options)


def make_engine(*targets, clock=None, max_concurrent: int = 16) -> Engine:
    config = Config(path="test", targets=targets, max_concurrent_targets=max_concurrent)
    return Engine(config, clock=clock) if clock else Engine(config)


def children(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads started them (parse workers are spawned from
    an executor thread)."""
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(c) for c in f.read().split()]
    return kids


def held_by_probe(answer: bytes) -> tuple[int, int]:
    """(bytes held, bytes of text held) for one target, worked out from its gzip /probe answer (text format,
    not decompressed by the client), to check vsxi_xivo_exporter_cached_exposition_bytes and _text_bytes: every
    sample line is held text; every byte of the answer is held as sent (exporter.packed), except the
    per-section headers (# lines, sent as stored blocks: 5 bytes + their text) and gzip's 20 bytes of header,
    final block and trailer."""
    text = gzip.decompress(answer).decode()
    lines = text.splitlines()
    samples = sum(len(line) + 1 for line in lines if line and not line.startswith("#"))
    headers = sum(len(line) + 1 for line in lines if line.startswith("#"))
    sections = sum(1 for line in lines if line.startswith("# HELP "))
    return len(answer) - 20 - (headers + 5 * sections), samples


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a text exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([^{ ]+)(?:\{(.*)\})? (\S+)$", line)
        if m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


async def make_xivo(generation="xivo16", name=None, password="xivo-Pw7", faults=None, auth="token", acls=None,
                    scale=None, gateway=None, **target):
    """A simulated PBX and a target for it; returns (sim, target, runners)."""
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.simulator.xivo_model import BACKENDS
    from exporter.xivo.config import XivoTarget

    sim = XivoSimulator(generation, username="exporter", password="xivo-Pw7", faults=faults, acls=acls,
                        scale=scale)
    runners, where = await start_xivo(sim, gateway=gateway)
    options = {"interval": 5.0, "timeout": 2.0, **target}
    return sim, XivoTarget(name=name or f"pbx-{generation}", username="exporter", password=password,
                           backend=BACKENDS[generation], auth=auth, **where, **options), runners


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    """Polls ``check()`` until it returns something true, and returns that: synchronisation on a condition with a
    generous deadline, never a fixed sleep. An OSError (a server not listening yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}"[:3000])


@contextlib.contextmanager
def refused_port():
    """A loopback port that refuses connections for as long as the block runs: bound, never listening, so
    nothing else can take it (a port merely picked as unused could be bound by another process meanwhile)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


class Exporter:
    """``python -m exporter`` as a child process on 127.0.0.1:0: the port the kernel gave is read from its
    "listening" log line (no port picked in advance and bound later). Its standard error is drained by a
    thread into ``lines`` so the process never blocks on a full pipe."""

    def __init__(self, *args: str, env: dict | None = None, timeout: float = 30.0, preexec_fn=None,
                 pass_fds: tuple[int, ...] = ()):
        self.proc = subprocess.Popen([sys.executable, "-m", "exporter", *args, "--web.listen-address",
                                      "127.0.0.1:0"], stderr=subprocess.PIPE, text=True, env=env,
                                     preexec_fn=preexec_fn, pass_fds=pass_fds)  # noqa: PLW1509 - a test's own child
        self.lines: list[str] = []
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._listening.wait(timeout) or self.url is None:
            self.stop()
            raise AssertionError(f"the exporter did not say it listens: {self.stderr()[-2000:]}")

    url: str | None = None

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r'msg="?listening"? .*address="?(https?://[^\s"]+)', line)
            if m and self.url is None:
                self.url = m.group(1).rstrip("/")
                self._listening.set()
        self._listening.set()  # exited before listening

    def stderr(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout)
        return code

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot be pickled")


def parse_or_crash(collector: str, target: str, answer: bytes):
    """The VSXi worker job with two parser bugs: ``resource`` raises a KeyError, ``sip_stats`` an exception
    that cannot be pickled (it cannot cross back from a worker process as itself)."""
    from exporter.vsxi.collectors import parse_and_build

    if collector == "resource":
        raise KeyError("trunk_id")
    if collector == "sip_stats":
        raise Unpicklable("a parser's own exception")
    return parse_and_build(collector, target, answer)


def hold_table(poller, collector: str):
    """Make ``poller`` wait before fetching ``collector`` until the returned ``release`` is set; ``entered`` is
    set when it starts waiting (tests that look at a round half done)."""
    import asyncio

    fetch, entered, release = poller.fetch, asyncio.Event(), asyncio.Event()

    async def waits(name, deadline):
        if name == collector:
            entered.set()
            await release.wait()
        return await fetch(name, deadline)

    poller.fetch = waits
    return entered, release


# --- Prometheus' relabelling, for the shipped scrape configs (Prometheus files and prometheus-operator CRDs) ---

def prometheus_hashmod(value: str, modulus: int) -> int:
    """As Prometheus' relabel package: the MD5's last 8 bytes, big-endian, modulo ``modulus`` (written here
    again, not imported from the exporter, so the two are checked against each other)."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus  # noqa: S324


def expand(template: str, m: re.Match) -> str:
    """``$1`` / ``${1}`` in a relabel replacement."""
    groups = (m.group(0), *m.groups())
    return re.sub(r"\$\{?(\d+)\}?", lambda g: groups[int(g.group(1))] or "", template)


def relabel(labels: dict[str, str], rules: list[dict], modulus: int | None = None) -> dict[str, str] | None:
    """Prometheus' relabelling for the actions the shipped configs use (replace, hashmod, keep, labelmap), with
    the keys of a Prometheus file (source_labels) or of a prometheus-operator resource (sourceLabels);
    ``modulus`` overrides the rules' own. None: the target is dropped."""
    labels = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace").lower()
        sources = rule.get("sourceLabels", rule.get("source_labels", []))
        target = rule.get("targetLabel", rule.get("target_label"))
        value = rule.get("separator", ";").join(labels.get(s, "") for s in sources)
        if action == "hashmod":
            labels[target] = str(prometheus_hashmod(value, modulus or rule["modulus"]))
            continue
        if action == "labelmap":
            for name in list(labels):
                mapped = re.fullmatch(rule["regex"], name)
                if mapped:
                    labels[expand(rule.get("replacement", "$1"), mapped)] = labels[name]
            continue
        m = re.fullmatch(rule.get("regex", "(.*)"), value)
        if action == "keep":
            if not m:
                return None
            continue
        assert action == "replace", action
        if m:
            labels[target] = expand(rule.get("replacement", "$1"), m)
    return labels

"""The landing page in a real browser (Debian's chromium, headless): the DOM a browser builds from it has the
summary, then the failures, then the healthy targets; and a screenshot of it is drawn (docs/img/landing.png is
one, for the README: UPDATE_SCREENSHOT=1 rewrites it)."""

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_web import _landing_fleet

from exporter.web.landing import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IMG = Path(__file__).parent.parent / "docs" / "img" / "landing.png"


def chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.fail("chromium (Debian package) is needed: .ci/run and the README's test command install it")
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("landing") / "landing.html"
    path.write_text(render(_landing_fleet(1000), 1000.0, "", "/metrics"))
    return path


def test_a_browser_reads_failures_first(page):
    dom = chromium("--dump-dom", page.as_uri()).stdout.decode()

    class Order(HTMLParser):
        def __init__(self):
            super().__init__()
            self.order = []

        def handle_starttag(self, tag, attrs):
            if tag == "h2" or (tag == "tr" and dict(attrs).get("class") in ("bad", "ok")):
                self.order.append(dict(attrs).get("id") or dict(attrs)["class"])

    parsed = Order()
    parsed.feed(dom)
    first_ok = parsed.order.index("healthy") + 1
    assert parsed.order[:3] == ["summary", "failing", "bad"]
    assert set(parsed.order[2:first_ok - 1]) == {"bad"} and set(parsed.order[first_ok:]) == {"ok"}


def test_screenshot(page, tmp_path):
    shot = tmp_path / "landing.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1100,800", page.as_uri())
    assert shot.exists(), result.stderr.decode()[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1100, 800)
    assert len(png) > 20_000  # drawn, not a blank page
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copy(shot, IMG)

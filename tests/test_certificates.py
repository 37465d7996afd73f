"""The expiry of the certificate a device presents: read from DER bytes (against what the openssl CLI says of
certificates it made), and exported per target over real TLS connections, verified or not."""

import shutil
import ssl
import subprocess
from datetime import UTC, datetime

import pytest
from aiohttp import web
from helpers import PASSWORD, SMALL, make_engine, sample

from exporter.certificates import not_after
from exporter.polling.status import CERTIFICATE_EXPIRY
from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.target import TLSConfig
from exporter.vsxi.config import VsxiTarget


def _openssl(d, *args) -> str:
    return subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, text=True).stdout


def _enddate(d, pem: str) -> float:
    """notAfter as the openssl CLI prints it (``notAfter=Nov 13 07:27:16 2126 GMT``): the truth to compare with."""
    text = _openssl(d, "x509", "-in", pem, "-noout", "-enddate").strip().removeprefix("notAfter=")
    return datetime.strptime(text, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Self-signed certificates for 127.0.0.1 expiring in 2 days (notAfter a UTCTime) and in 30,000 days
    (after 2049: a GeneralizedTime), made with the openssl CLI."""
    assert shutil.which("openssl"), "openssl CLI required (.ci/run installs it)"
    d = tmp_path_factory.mktemp("device-certs")
    for name, days in (("soon", "2"), ("far", "30000")):
        _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.pem", "-days", days, "-subj", "/CN=sbc", "-addext", "subjectAltName=IP:127.0.0.1")
        _openssl(d, "x509", "-in", f"{name}.pem", "-outform", "DER", "-out", f"{name}.der")
    return d


@pytest.mark.parametrize("name", ["soon", "far"])
def test_not_after_is_what_openssl_says(certs, name):
    expected = _enddate(certs, f"{name}.pem")
    assert not_after((certs / f"{name}.der").read_bytes()) == expected
    if name == "far":
        assert datetime.fromtimestamp(expected, UTC).year > 2049  # the GeneralizedTime form


def test_what_is_not_a_certificate_has_no_expiry(certs):
    der = (certs / "soon.der").read_bytes()
    for junk in (b"", b"\x30", b"\x30\x82\xff\xff", der[:40], der[:-200], b"not a certificate", bytes(64)):
        assert not_after(junk) is None, junk[:10]


@pytest.fixture
async def device(certs, request):
    """A VSXi simulator over TLS presenting the certificate ``request.param``."""
    name = request.param
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / f"{name}.pem", certs / f"{name}.key")
    runner = web.AppRunner(VsxiSimulator(password=PASSWORD, scale=SMALL).app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        yield name, f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001
    finally:
        await runner.cleanup()


def _status_text(state) -> str:
    return b"".join(text for _, text in state.status.text()).decode()


@pytest.mark.parametrize("device", ["soon", "far"], indirect=True)
@pytest.mark.parametrize("verified", [True, False])
async def test_the_presented_certificate_expiry_is_exported(device, certs, verified):
    """Verified with its CA file (the self-signed certificate itself) or not verified at all: the same
    expiry, as openssl reads it."""
    name, url = device
    tls = TLSConfig(ca_file=str(certs / f"{name}.pem")) if verified else TLSConfig(insecure_skip_verify=True)
    target = VsxiTarget(name="sbc-tls", url=url, username="monitor", password=PASSWORD, tls=tls,
                        collectors=("realtime",), interval=5, timeout=2)
    engine = make_engine(target)
    try:
        await engine.poll_once()
    finally:
        await engine.stop()
    state = engine.states["sbc-tls"]
    assert state.up
    expiry = sample(_status_text(state), CERTIFICATE_EXPIRY.name, target="sbc-tls")
    assert expiry == _enddate(certs, f"{name}.pem")


async def test_a_plain_http_target_has_no_certificate_series():
    from aiohttp.test_utils import TestServer

    server = TestServer(VsxiSimulator(password=PASSWORD, scale=SMALL).app())
    await server.start_server()
    try:
        target = VsxiTarget(name="sbc-http", url=str(server.make_url("")).rstrip("/"), username="monitor",
                            password=PASSWORD, collectors=("realtime",), interval=5, timeout=2)
        engine = make_engine(target)
        await engine.poll_once()
        await engine.stop()
    finally:
        await server.close()
    state = engine.states["sbc-http"]
    assert state.up and CERTIFICATE_EXPIRY.name not in _status_text(state)


async def test_xivo_reports_its_certificate_too(certs):
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.xivo.config import XivoTarget

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "far.pem", certs / "far.key")
    runners, where = await start_xivo(XivoSimulator("wazo", password=PASSWORD), ssl_context=ctx)
    try:
        target = XivoTarget(name="pbx-tls", username="exporter", password=PASSWORD, backend="wazo_user",
                            tls=TLSConfig(insecure_skip_verify=True), collectors=("agents",), interval=5,
                            timeout=2, **where)
        engine = make_engine(target)
        await engine.poll_once()
        await engine.stop()
    finally:
        for runner in runners:
            await runner.cleanup()
    state = engine.states["pbx-tls"]
    assert state.up
    assert sample(_status_text(state), CERTIFICATE_EXPIRY.name, target="pbx-tls") == _enddate(certs, "far.pem")

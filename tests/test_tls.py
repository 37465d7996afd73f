"""TLS: verification on by default, a CA file to trust a device, an explicit opt-out, a clear failure."""

import shutil
import ssl
import subprocess

import pytest
from aiohttp import web
from helpers import PASSWORD, SMALL, make_engine

from exporter.simulator.vsxi_app import VsxiSimulator
from exporter.target import TLSConfig
from exporter.vsxi.config import VsxiTarget


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    assert shutil.which("openssl"), "openssl CLI required"
    d = tmp_path_factory.mktemp("certs")

    def sh(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    sh("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
       "-subj", "/CN=test CA")
    sh("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=sbc")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    sh("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return d


@pytest.fixture
async def tls_sim(certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    runner = web.AppRunner(VsxiSimulator(password=PASSWORD, scale=SMALL).app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)  # the kernel's port, read back
        await site.start()
        yield f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001
    finally:
        await runner.cleanup()


async def poll(url, tls):
    target = VsxiTarget(name="sbc-tls", url=url, username="monitor", password=PASSWORD, tls=tls,
                        collectors=("realtime", "media_server"), interval=5, timeout=2)
    engine = make_engine(target)
    try:
        await engine.poll_once()
    finally:
        await engine.stop()
    return engine.states["sbc-tls"]


async def test_verified_with_the_device_ca(tls_sim, certs):
    state = await poll(tls_sim, TLSConfig(ca_file=str(certs / "ca.pem")))
    assert state.up and all(c.success for c in state.collectors.values())


async def test_untrusted_certificate_fails_clearly(tls_sim, caplog):
    state = await poll(tls_sim, TLSConfig())
    assert not state.up
    realtime = state.collectors["realtime"]
    assert realtime.reason == "tls"
    assert realtime.error.startswith("realtime: TLS certificate not trusted: ")
    assert "set tls.ca_file" in realtime.error
    assert state.collectors["media_server"].reason == "tls"  # the round stops: same result for every table
    assert any(r.getMessage() == "poll failed" and r.fields["reason"] == "tls" for r in caplog.records)


async def test_a_certificate_for_another_name_fails_clearly_even_from_the_trusted_ca(tls_sim, certs):
    """The device's CA is trusted, but its certificate names 127.0.0.1, not the host the target uses."""
    state = await poll(tls_sim.replace("127.0.0.1", "localhost"), TLSConfig(ca_file=str(certs / "ca.pem")))
    assert not state.up
    realtime = state.collectors["realtime"]
    assert realtime.reason == "tls" and "localhost" in realtime.error, realtime.error


async def test_explicit_opt_out(tls_sim):
    state = await poll(tls_sim, TLSConfig(insecure_skip_verify=True))
    assert state.up



@pytest.fixture
def server_tls(certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    return ctx


@pytest.mark.parametrize("generation", ["xivo16", "wazo"])
async def test_xivo_over_tls(certs, server_tls, generation):
    """Token request and every service over HTTPS, verified with the PBX's CA (XiVO's own server.crt)."""
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.simulator.xivo_model import BACKENDS
    from exporter.xivo.config import XivoTarget

    sim = XivoSimulator(generation, password=PASSWORD)
    runners, where = await start_xivo(sim, ssl_context=server_tls)
    try:
        for tls, up in ((TLSConfig(ca_file=str(certs / "ca.pem")), True), (TLSConfig(), False)):
            target = XivoTarget(name="pbx-tls", username="exporter", password=PASSWORD, tls=tls,
                                backend=BACKENDS[generation], collectors=("agents", "queues"), interval=5,
                                timeout=2, **where)
            engine = make_engine(target)
            await engine.poll_once()
            await engine.stop()
            state = engine.states["pbx-tls"]
            assert state.up is up
            if not up:  # an untrusted certificate on xivo-auth: a clear TLS reason, not "auth down"
                assert state.collectors["agents"].reason == "tls"
                assert "TLS certificate not trusted" in state.collectors["agents"].error
    finally:
        for runner in runners:
            await runner.cleanup()

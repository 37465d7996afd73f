"""End to end with a web config: the demo exporter behind TLS, a required client certificate and bcrypt basic
auth (the same file node_exporter would take), scraped by a real Prometheus with ``tls_config`` and
``basic_auth`` in its scrape config. The right credentials and certificate get metrics; a wrong password gets
401 and no samples; a client without the certificate fails the TLS handshake; a trusted certificate without a
SAN of ``client_allowed_sans`` has its connection closed before any answer, and is counted."""

import re
import subprocess
import sys

import bcrypt
import pytest
import yaml
from certs import make_certs
from test_e2e import get, log_text, query, start_prometheus, wait_for

PASSWORD = "Scrape-Pw-71"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e-web")
    (tmp / "certs").mkdir()
    certs = make_certs(tmp / "certs")
    web = tmp / "web.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": "certs/server.pem", "key_file": "certs/server.key",
                              "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "certs/ca.pem",
                              "client_allowed_sans": ["prometheus.example"]},
        "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff"}},
        "basic_auth_users": {"prometheus": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()},
    }))
    procs = []
    try:
        log = open(tmp / "exporter.log", "w+")
        exporter = subprocess.Popen([sys.executable, "-m", "exporter", "--demo", "--web.config.file", str(web),
                                     "--web.listen-address", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log,
                                    text=True)
        procs.append(exporter)
        banner = re.search(r"metrics at https://(127\.0\.0\.1:\d+)/metrics", exporter.stdout.readline())
        assert banner, f"no banner (rc {exporter.poll()}): {log_text(log)}"
        address = banner.group(1)
        tls = {"ca_file": str(certs / "ca.pem"), "server_name": "localhost"}
        client = {"cert_file": str(certs / "client.pem"), "key_file": str(certs / "client.key")}

        def job(name, tls_config, password):
            return {"job_name": name, "scheme": "https", "tls_config": tls_config,
                    "basic_auth": {"username": "prometheus", "password": password},
                    "static_configs": [{"targets": [address]}]}

        config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": [
            job("secured", {**tls, **client}, PASSWORD),
            job("wrong-password", {**tls, **client}, "not-the-password"),
            job("no-client-certificate", tls, PASSWORD),
            job("san-not-allowed", {**tls, "cert_file": str(certs / "grafana.pem"),
                                    "key_file": str(certs / "grafana.key")}, PASSWORD),
        ]}
        api = start_prometheus(config, tmp, procs)
        yield {"api": api, "log": log}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def targets(api: str) -> dict:
    return {t["labels"]["job"]: t for t in get(f"{api}/targets")["data"]["activeTargets"]}


def test_prometheus_scrapes_through_tls_client_certificate_and_basic_auth(secured):
    api = secured["api"]
    wait_for(lambda: all(t["lastScrape"] != "0001-01-01T00:00:00Z" for t in targets(api).values())
             and len(targets(api)) == 4 and query(api, 'vsxi_up{job="secured"}'), 30, "four scraped jobs")
    seen = targets(api)
    assert seen["secured"]["health"] == "up", seen["secured"]["lastError"]
    assert {r["metric"]["target"] for r in query(api, 'vsxi_up{job="secured"}')} == {"sbc-demo-xml",
                                                                                      "sbc-demo-json"}
    # A wrong password: 401, and not one sample.
    assert seen["wrong-password"]["health"] == "down"
    assert "401" in seen["wrong-password"]["lastError"], seen["wrong-password"]["lastError"]
    print("wrong password:", seen["wrong-password"]["lastError"])
    print("no certificate:", seen["no-client-certificate"]["lastError"])
    assert query(api, 'count({job="wrong-password", __name__=~"vsxi.*|xivo.*"})') == []
    # No client certificate: the TLS handshake fails, no HTTP at all.
    assert seen["no-client-certificate"]["health"] == "down"
    error = seen["no-client-certificate"]["lastError"].lower()
    assert "certificate" in error or "tls" in error or "reset" in error or "eof" in error, error
    assert query(api, 'count({job="no-client-certificate", __name__=~"vsxi.*|xivo.*"})') == []
    # A certificate the CA signed, without an allowed SAN: the connection closed after the handshake, before any
    # HTTP answer (no status code in the error), counted by the exporter the secured job scrapes.
    assert seen["san-not-allowed"]["health"] == "down"
    error = seen["san-not-allowed"]["lastError"]
    print("SAN not allowed:", error)
    assert "HTTP status" not in error and re.search(r"EOF|reset|closed|tls", error, re.I), error
    assert query(api, 'count({job="san-not-allowed", __name__=~"vsxi.*|xivo.*"})') == []
    wait_for(lambda: query(api, 'vsxi_xivo_exporter_http_client_certificates_refused_total{job="secured"} > 0'),
             30, "the refused certificate counted")
    # The exporter lived through it all and logged no secret.
    assert PASSWORD not in log_text(secured["log"])

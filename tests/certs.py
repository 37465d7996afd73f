"""Throwaway certificates made with the openssl CLI for the web config tests: a CA, a server certificate for
localhost/127.0.0.1, client certificates signed by the CA (with DNS, e-mail, IP and URI SANs), and a client
certificate from a CA the server does not trust; ``grafana``, signed by the CA, has only DNS:grafana.example
(a trusted client whose SAN an allow-list of prometheus.example leaves out)."""

import shutil
import subprocess
from pathlib import Path


def _sh(d: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _sh(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-days", "2", "-subj", f"/CN={name}")


def _leaf(d: Path, name: str, ca: str, cn: str, san: str, usage: str) -> None:
    _sh(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
        "-subj", f"/CN={cn}")
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\n")
    _sh(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def make_certs(d: Path) -> Path:
    assert shutil.which("openssl"), "openssl CLI required (.ci/run installs it)"
    _ca(d, "ca")
    _ca(d, "other-ca")
    _leaf(d, "server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth")
    _leaf(d, "server2", "ca", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth")  # for rotation
    _leaf(d, "client", "ca", "prometheus", "DNS:prometheus.example,email:prom@example.org,IP:2001:db8::1,"
          "URI:spiffe://example.org/prometheus", "clientAuth")
    _leaf(d, "stranger", "other-ca", "prometheus", "DNS:prometheus.example", "clientAuth")
    _leaf(d, "grafana", "ca", "grafana", "DNS:grafana.example", "clientAuth")
    return d

"""TLS for the exporter's own server: contexts built from the web config, re-read for every new connection.

The toolkit re-reads its web config and certificates on every handshake, so a renewed certificate (or a changed
client policy) applies without a restart. asyncio builds each connection's TLS object with
``context.wrap_bio``: the listening socket gets a ``ReloadingContext`` whose ``wrap_bio`` hands the connection
to a context built from the files as they are now (rebuilt only when one of them changed: a stat per
connection). A reload that fails (a half-written key, a config error) fails that connection's handshake only,
with one log line per distinct error; the server keeps listening.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
from collections.abc import Callable

from exporter import logs
from exporter.web.webconfig import TLSServerConfig, WebConfig, WebConfigError

logger = logging.getLogger("exporter.web")


class TLSMaterialError(WebConfigError):
    pass


def _load_chain(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    """Certificate and key from files or inline PEM (the ssl module loads chains from files only: inline PEM
    goes through a private temporary file, removed at once). The ``_file`` form wins, as in the toolkit."""
    inline: list[str] = []

    def path(file: str, text: str, kind: str) -> str:
        if file:
            return tls.path(file)
        fd, name = tempfile.mkstemp(prefix=f"web-{kind}-", suffix=".pem")  # mode 0600
        inline.append(name)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return name

    where = f"{tls.source}: tls_server_config.{'cert_file' if tls.cert_file else 'cert'}"
    try:
        ctx.load_cert_chain(path(tls.cert_file, tls.cert, "cert"), path(tls.key_file, tls.key, "key"))
    except FileNotFoundError as exc:
        raise TLSMaterialError([f"{where}: failed to load X509KeyPair: open {exc.filename}: "
                                "no such file or directory"]) from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSMaterialError([f"{where}: failed to load X509KeyPair: {exc}"]) from None
    finally:
        for name in inline:
            os.unlink(name)


def build_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """One server context with everything the config says; raises TLSMaterialError on unreadable material."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = tls.min_version
    ctx.maximum_version = tls.max_version
    if tls.min_version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL refuses TLS 1.0/1.1 at its default level
    if tls.cipher_suites:
        ctx.set_ciphers(":".join(tls.cipher_suites) + (":@SECLEVEL=0" if tls.min_version < ssl.TLSVersion.TLSv1_2
                                                       else ""))
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1 only (webconfig docstring)
    _load_chain(ctx, tls)
    ctx.verify_mode = tls.verify_mode
    if tls.verify_mode != ssl.CERT_NONE and not (tls.client_ca_file or tls.client_ca):
        # No client CA named: the system's, as Go does (WebConfig.warnings says what that means).
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    elif tls.verify_mode != ssl.CERT_NONE:
        where = f"{tls.source}: tls_server_config.{'client_ca_file' if tls.client_ca_file else 'client_ca'}"
        try:
            if tls.client_ca_file:
                ctx.load_verify_locations(cafile=tls.path(tls.client_ca_file))
            else:
                ctx.load_verify_locations(cadata=tls.client_ca)
        except FileNotFoundError as exc:
            raise TLSMaterialError([f"{where}: open {exc.filename}: no such file or directory"]) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise TLSMaterialError([f"{where}: no certificate could be read ({exc})"]) from None
        if not ctx.get_ca_certs():
            raise TLSMaterialError([f"{where}: no certificate could be read"])
    return ctx


class ReloadingContext(ssl.SSLContext):
    """The listening socket's context: each new connection is wrapped by the context the files describe now.

    ``load`` reads the web config (raising WebConfigError); contexts are cached by the stat of the config file
    and of every certificate file it names, so rotation is seen by the next connection and a steady state
    costs a few stats per connection.
    """

    def __new__(cls, load: Callable[[], WebConfig], config_path: str):
        self = super().__new__(cls, ssl.PROTOCOL_TLS_SERVER)
        self._load = load
        self._config_path = config_path
        self._cached: tuple[tuple, ssl.SSLContext] | None = None
        self._last_error: str | None = None
        return self

    def __init__(self, load: Callable[[], WebConfig], config_path: str):  # noqa: D107 - state set in __new__
        pass

    @staticmethod
    def _stat(paths: tuple[str, ...]) -> tuple:
        out = []
        for p in paths:
            try:
                st = os.stat(p)
                out.append((p, st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                out.append((p, None))
        return tuple(out)

    def current(self) -> ssl.SSLContext:
        """The context for a new connection; raises WebConfigError when the files do not make one."""
        cached = self._cached
        if cached is not None:
            key, ctx = cached
            if self._stat(tuple(p for p, *_ in key)) == key:
                return ctx
        config = self._load()
        if config.tls is None:
            raise WebConfigError([f"{self._config_path}: TLS was turned off in the web config; restart the "
                                  "exporter to serve plain HTTP"])
        paths = (self._config_path, *config.tls.files())
        key = self._stat(paths)
        ctx = build_context(config.tls)
        self._cached = (key, ctx)
        if self._last_error is not None:
            logs.log(logger, logging.INFO, "web config TLS material readable again", file=self._config_path)
            self._last_error = None
        return ctx

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        try:
            ctx = self.current()
        except WebConfigError as exc:
            message = "; ".join(exc.problems)
            if message != self._last_error:
                logs.log(logger, logging.ERROR, "web config: TLS handshake refused", error=message)
                self._last_error = message
            ctx = _refusing_context()
        return ctx.wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
                            session=session)


_REFUSING: ssl.SSLContext | None = None


def _refusing_context() -> ssl.SSLContext:
    """A context without a certificate: its handshakes fail (the client sees an alert), the server lives on."""
    global _REFUSING
    if _REFUSING is None:
        _REFUSING = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    return _REFUSING

"""``--web.systemd-socket``: serve on the listening sockets systemd passes (socket activation), as the
exporter-toolkit does.

systemd starts the service with the sockets of its ``.socket`` unit open from file descriptor 3 on, and says
so in the environment: ``LISTEN_PID`` (the process meant: this one) and ``LISTEN_FDS`` (how many). As
sd_listen_fds(unset_environment=1) does, the variables are removed once read, so that no child (the parse
workers) takes the sockets for its own. The port is then systemd's: it is open before the exporter runs, and a
restart never refuses a scrape.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START


class SystemdSocketError(Exception):
    pass


def listen_sockets(environ: MutableMapping[str, str] = os.environ) -> list[socket.socket]:
    """The stream sockets passed by systemd; raises SystemdSocketError saying what is missing."""
    pid, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(key, None)
    if pid is None or count is None:
        raise SystemdSocketError("--web.systemd-socket: no socket passed (LISTEN_PID and LISTEN_FDS are not set); "
                                 "start the exporter through its .socket unit, or listen with --web.listen-address")
    if not pid.isdigit() or int(pid) != os.getpid():
        raise SystemdSocketError(f"--web.systemd-socket: the sockets were passed to process {pid}, not to this one "
                                 f"({os.getpid()})")
    if not count.isdigit() or int(count) < 1:
        raise SystemdSocketError(f"--web.systemd-socket: LISTEN_FDS is {count!r}: no socket passed")
    sockets = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise SystemdSocketError(f"--web.systemd-socket: file descriptor {fd}: {exc.strerror}") from None
        if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            sock.detach()
            raise SystemdSocketError(f"--web.systemd-socket: file descriptor {fd} is not a stream socket "
                                     "(ListenStream= in the .socket unit)")
        sock.set_inheritable(False)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def address(sock: socket.socket) -> str:
    """How the listening line shows a socket: host:port, or the path of a Unix socket."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

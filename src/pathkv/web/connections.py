"""Idle connections: a serving worker closes client connections that have sent nothing for
``idle_timeout`` seconds and have no request in flight.

The HTTP server holds a connection slot per open connection, from its accept, and its header
timeout only starts with the first byte: without this, a thousand sockets that never send a
byte took every slot, and the service (health checks included) stopped answering. This also
bounds keep-alive connections left idle between requests.

Linux only: the worker looks at its own sockets (``/proc/self/fd``), asks the kernel how long
each has been silent (``TCP_INFO``: ``tcpi_last_data_recv``, counted from the connection's
start when it never sent anything), and shuts down those past the timeout whose peer has no
request in flight (a stream being sent counts as in flight). Only connections to the
server's own port are considered: the worker's connections to its store are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct

log = logging.getLogger("pathkv")

Peer = tuple[str, int]
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_ESTABLISHED = 1
# struct tcp_info: u8 state at 0 ... u32 tcpi_last_data_recv at 52.
_INFO_SIZE = 104
_LAST_DATA_RECV = struct.Struct("=I")


def reap_idle(port: int, idle_ms: int, active: set[Peer]) -> int:
    """Shut down this process's idle client connections to port; returns how many."""
    if _TCP_INFO is None:
        return 0
    closed = 0
    try:
        entries = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for entry in entries:
        fd = int(entry)
        try:
            if not os.readlink(f"/proc/self/fd/{entry}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            try:
                if sock.type != socket.SOCK_STREAM or sock.family not in (
                    socket.AF_INET,
                    socket.AF_INET6,
                ):
                    continue
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                if sock.getsockname()[1] != port:
                    continue
                info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _INFO_SIZE)
                if info[0] != _ESTABLISHED:
                    continue
                (silent_ms,) = _LAST_DATA_RECV.unpack_from(info, 52)
                if silent_ms < idle_ms or peer_of(sock.getpeername()[:2]) in active:
                    continue
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                closed += 1
            except OSError:
                continue
    if closed:
        log.info("closed idle connections", extra={"closed": closed})
    return closed


def peer_of(client: object) -> Peer | None:
    """The peer of an ASGI scope's ``client`` ([host, port]), as the kernel reports it."""
    if isinstance(client, list | tuple) and len(client) == 2:
        return str(client[0]), int(client[1])
    return None

"""A look at a Redis server before the workers start, over a plain socket (no driver, no
threads in the supervising process): is it there, does it take our credentials and database?

What it finds is logged at start, one line; pathkv serves either way (readiness says 503
until the store answers), so a Redis that comes up later is picked up without a restart.
A keyspace made with another layout (layout.py) is not transient: that raises StoreError,
and the server does not start.
"""

from __future__ import annotations

import dataclasses
import socket

from pathkv.core.contract import StoreError
from pathkv.stores.redis.layout import LAYOUT, LEGACY, Layout
from pathkv.stores.redis.options import RedisOptions
from pathkv.stores.redis.sentinel import ask_primary_now, command


def _reply(sock: socket.socket) -> bytes:
    """One reply: a line, or a bulk string whole."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        head, found, _ = data.partition(b"\r\n")
        if not found:
            continue
        if not head.startswith(b"$") or head == b"$-1":
            break
        if len(data) >= len(head) + 2 + int(head[1:]) + 2:
            break
    return data.strip()


def _auth(options: RedisOptions) -> bytes:
    """AUTH with the options' credentials (a password is set)."""
    assert options.password is not None
    if options.username:
        return command("AUTH", options.username, options.password)
    return command("AUTH", options.password)


def _bulk(reply: bytes) -> str | None:
    if not reply.startswith(b"$") or reply == b"$-1":
        return None
    return reply.partition(b"\r\n")[2].decode("utf-8", "replace")


def _ask(options: RedisOptions, host: str, port: int, *parts: str) -> bytes:
    """One command on a connection of its own; a cluster's MOVED is followed once."""
    with socket.create_connection((host, port), options.connect_timeout) as sock:
        sock.settimeout(options.timeout + options.connect_timeout)
        if options.password is not None:
            sock.sendall(_auth(options))
            _reply(sock)
        if not options.cluster:
            sock.sendall(command("SELECT", str(options.database)))
            _reply(sock)
        sock.sendall(command(*parts))
        answer = _reply(sock)
    if answer.startswith(b"-MOVED ") and options.cluster:
        where = answer.split()[2].decode()
        moved_host, _, moved_port = where.rpartition(":")
        return _ask(dataclasses.replace(options, cluster=()), moved_host, int(moved_port), *parts)
    return answer


def layout_problem(options: RedisOptions, host: str, port: int) -> str | None:
    """Why the keyspace cannot be served with the configured layout, or None (also when
    it has none yet: the store records it on first use)."""
    layout = Layout(options.prefix, options.buckets, bool(options.cluster))
    found = _bulk(_ask(options, host, port, "GET", layout.home + LAYOUT))
    if found is None:
        if layout.buckets == 1:
            return None
        legacy = _ask(options, host, port, "EXISTS", *(layout.home + k for k in LEGACY))
        if not legacy.startswith(b":") or legacy == b":0":
            return None
        found = "buckets=1"
    return layout.mismatch(options.prefix, found)


def problem(options: RedisOptions) -> str | None:
    """What stops pathkv from using this Redis right now, in a few words, or None."""
    if options.sentinels:
        assert options.master is not None
        try:
            host, port = ask_primary_now(options.sentinels, options.master, options.connect_timeout)
        except StoreError as exc:
            return str(exc)
        options = dataclasses.replace(options, host=host, port=port, sentinels=())
    where = f"{options.host}:{options.port}"
    try:
        sock = socket.create_connection((options.host, options.port), options.connect_timeout)
    except ConnectionRefusedError:
        return f"connection refused at {where}: is Redis running there?"
    except TimeoutError:
        return f"no answer from {where} within {options.connect_timeout:g} s (timed out)"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"
    if options.tls:
        sock.close()
        return None  # the TLS handshake is the client's; reaching the port is what we check
    with sock:
        sock.settimeout(options.timeout + options.connect_timeout)
        try:
            if options.password is not None:
                sock.sendall(_auth(options))
                answer = _reply(sock)
                if not answer.startswith(b"+"):
                    return f"Redis at {where} refused the credentials: {answer[1:80].decode()}"
            sock.sendall(command("SELECT", str(options.database)))
            answer = _reply(sock)
        except TimeoutError:
            return f"Redis at {where} accepted the connection but did not answer (timed out)"
        except OSError as exc:
            return f"Redis at {where}: {exc.strerror or exc}"
    if answer.startswith(b"+"):
        try:
            mismatch = layout_problem(options, options.host, options.port)
        except OSError:
            return None  # the workers' store checks it again
        if mismatch is not None:
            raise StoreError(mismatch)
        return None
    text = answer[1:120].decode("utf-8", "replace")
    if "DB index" in text or "invalid DB" in text:
        return f"Redis at {where} has no database {options.database}: {text}"
    return f"Redis at {where} answered: {text}"

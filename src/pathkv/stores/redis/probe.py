"""A look at a Redis server before the workers start, over a plain socket (no driver, no
threads in the supervising process): is it there, does it take our credentials and database?

What it finds is logged at start, one line; pathkv serves either way (readiness says 503
until the store answers), so a Redis that comes up later is picked up without a restart.
"""

from __future__ import annotations

import dataclasses
import socket

from pathkv.core.contract import StoreError
from pathkv.stores.redis.options import RedisOptions
from pathkv.stores.redis.sentinel import ask_primary_now, command


def _reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.strip()


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
                auth = (
                    ("AUTH", options.username, options.password)
                    if options.username
                    else ("AUTH", options.password)
                )
                sock.sendall(command(*auth))
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
        return None
    text = answer[1:120].decode("utf-8", "replace")
    if "DB index" in text or "invalid DB" in text:
        return f"Redis at {where} has no database {options.database}: {text}"
    return f"Redis at {where} answered: {text}"

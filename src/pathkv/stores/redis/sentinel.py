"""Asking Redis Sentinel where the primary is (``redis+sentinel://``).

valkey-glide has no Sentinel support, so pathkv asks the sentinels itself, in the one
command it needs (``SENTINEL get-master-addr-by-name``), over a plain connection, and hands
the answer to the client as an ordinary address. The store asks again when the primary stops
answering or answers READONLY (it was demoted), and every few seconds with its health check.
"""

from __future__ import annotations

import asyncio
import socket

from pathkv.core.contract import StoreError

Address = tuple[str, int]


def command(*parts: str) -> bytes:
    """One command in RESP."""
    encoded = [part.encode("utf-8") for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)


def _parse_address(reply: bytes) -> Address | None:
    """``*2 $host $port``, or a null (``*-1``, ``_``): the sentinel knows no such primary."""
    lines = reply.split(b"\r\n")
    if lines[0] in (b"*-1", b"_", b"$-1"):
        return None
    if lines[0] != b"*2" or len(lines) < 5:
        raise ValueError(reply[:80].decode("utf-8", "replace"))
    return lines[2].decode("utf-8"), int(lines[4])


def _complete(reply: bytes) -> bool:
    return reply.startswith((b"*-1", b"_", b"$-1", b"-")) or reply.count(b"\r\n") >= 5


def _question(master: str) -> bytes:
    return command("SENTINEL", "get-master-addr-by-name", master)


def _unknown(master: str, sentinels: tuple[Address, ...], why: list[str]) -> StoreError:
    where = ", ".join(f"{h}:{p}" for h, p in sentinels)
    return StoreError(
        f"no sentinel ({where}) named a primary for {master!r}: {'; '.join(why) or 'no answer'}"
    )


def ask_primary_now(sentinels: tuple[Address, ...], master: str, per_sentinel: float) -> Address:
    """The primary's address, from the first sentinel that knows it; StoreError if none."""
    why: list[str] = []
    for host, port in sentinels:
        try:
            with socket.create_connection((host, port), per_sentinel) as sock:
                sock.settimeout(per_sentinel)
                sock.sendall(_question(master))
                reply = b""
                while not _complete(reply):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            if reply.startswith(b"-"):
                why.append(f"{host}:{port} answered {reply[1:80].decode('utf-8', 'replace')}")
                continue
            found = _parse_address(reply)
        except (OSError, ValueError) as exc:
            why.append(f"{host}:{port}: {exc or type(exc).__name__}")
            continue
        if found is not None:
            return found
        why.append(f"{host}:{port} knows no primary {master!r}")
    raise _unknown(master, sentinels, why)


async def ask_primary(sentinels: tuple[Address, ...], master: str, per_sentinel: float) -> Address:
    """ask_primary_now, off the event loop (a few short connections, seldom)."""
    return await asyncio.to_thread(ask_primary_now, sentinels, master, per_sentinel)

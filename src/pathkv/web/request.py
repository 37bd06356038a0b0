"""Reading what the client sent: headers, query parameters and a bounded, timed body."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from pathkv.core.errors import BadRequest, PayloadTooLarge, RequestTimeout
from pathkv.web.deadlines import Deadlines

Scope = dict[str, Any]
Receive = Any


class ClientGone(Exception):
    """The client disconnected before its request was read."""


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    """Request headers by lower-case name (a repeated header keeps its last value)."""
    return dict(scope["headers"])


def query_of(scope: Scope) -> dict[str, str]:
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return {}
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("query string is not valid UTF-8") from None
    return {name: values[-1] for name, values in parsed.items()}


def text_header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


async def read_body(
    receive: Receive, headers: dict[bytes, bytes], limit: int, deadlines: Deadlines,
    seconds: float,
) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed limit.

    With a Content-Length, reading stops once that many bytes have arrived: HTTP framing
    ends the body there, and asking the server for its end costs another round trip
    through it (granian answers the last chunk with ``more_body`` set).
    """
    declared = headers.get(b"content-length")
    expected = -1
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        expected = int(declared)
        if expected > limit:
            raise PayloadTooLarge(f"body of {expected} bytes is over the {limit}-byte limit")
        if expected == 0:
            return b""
    chunks: list[bytes] = []
    size = 0
    task = deadlines.start(seconds)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
            if size == expected or not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if deadlines.finish(task):
            raise RequestTimeout(f"the body did not arrive within {seconds:g} s") from None
        raise
    finally:
        deadlines.finish(task)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

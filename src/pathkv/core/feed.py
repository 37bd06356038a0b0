"""The change feed as clients see it: cursors, which changes a watch selects, and how one
change is written out (a JSON item, an SSE event).

A cursor names a position in the store's feed. It is opaque to clients (URL-safe base64 of
a versioned text), so what a position is inside may change with the engine (a Redis Cluster
feed is a set of streams) without breaking the contract: a client only hands back what it
was given.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import orjson

from pathkv.core.contract import Change, Position
from pathkv.core.errors import InvalidParameter
from pathkv.core.etags import format_etag
from pathkv.core.paths import ROOT
from pathkv.core.tokens import READ, Principal

_CURSOR = re.compile(r"v1:(\d{1,19}):(\d{1,19})")


def encode_position(position: Position) -> str:
    text = f"v1:{position[0]}:{position[1]}".encode("ascii")
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def decode_position(cursor: str, name: str = "since") -> Position:
    try:
        padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
        text = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        match = _CURSOR.fullmatch(text.decode("ascii"))
        if match:
            return (int(match.group(1)), int(match.group(2)))
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidParameter(f"'{name}' is not a cursor of this service's change feed")


@dataclass(frozen=True, slots=True)
class Selection:
    """What one watch follows: a tenant's paths below a prefix (or one path), as far as its
    token may read them."""

    namespace: str
    prefix: str = ROOT
    path: str | None = None
    principal: Principal | None = None

    def covers(self, change: Change) -> bool:
        if change.namespace != self.namespace:
            return False
        path = change.path
        if self.path is not None:
            if path != self.path:
                return False
        elif not path.startswith(self.prefix):
            return False
        return self.readable(path)

    def readable(self, path: str) -> bool:
        """Whether the watch's token may read path (the rest of ``covers``)."""
        principal = self.principal
        return principal is None or principal.may(READ, path)


def _seconds(ms: int | None) -> bytes:
    return b"null" if ms is None else b"%d" % (ms // 1000)


def item_json(change: Change, with_id: bool) -> bytes:
    """``{"id"?, "event", "path", "version", "etag", "last_updated", "expires_at", "data"?}``
    (times in Unix seconds; the document, spliced in unparsed, in put events only)."""
    parts = [b"{"]
    if with_id:
        parts += [b'"id":"', encode_position(change.position).encode("ascii"), b'",']
    etag = (
        orjson.dumps(format_etag(change.version, change.digest))
        if change.version is not None and change.digest is not None
        else b"null"
    )
    parts += [
        b'"event":"',
        change.event.encode("ascii"),
        b'","path":',
        orjson.dumps(change.path),
        b',"version":',
        b"null" if change.version is None else b"%d" % change.version,
        b',"etag":',
        etag,
        b',"last_updated":',
        _seconds(change.last_updated),
        b',"expires_at":',
        _seconds(change.expires_at),
    ]
    if change.event == "put" and change.body is not None:
        parts += [b',"data":', change.body]
    parts.append(b"}")
    return b"".join(parts)


def sse_event(change: Change) -> bytes:
    """One SSE event: ``id``, ``event`` and one ``data`` line (JSON has no raw newline)."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        encode_position(change.position).encode("ascii"),
        change.event.encode("ascii"),
        item_json(change, with_id=False),
    )


def sse_control(event: str, why: str) -> bytes:
    """A control event (``reset``): no ``id``, so it never moves a client's cursor."""
    return b"event: %s\ndata: %s\n\n" % (event.encode("ascii"), orjson.dumps({"reason": why}))

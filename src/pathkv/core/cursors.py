"""Listing cursors: opaque to clients, a path inside.

A cursor names the last path of a page; the next page starts after it. It is URL-safe
base64 without padding, so it can be passed back as a query parameter as it is.
"""

from __future__ import annotations

import base64
import binascii

from pathkv.core.errors import InvalidParameter


def encode_cursor(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, name: str = "after") -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        path = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        if path.startswith(b"/"):
            return path.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidParameter(f"'{name}' is not a cursor this service issued")

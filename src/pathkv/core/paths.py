"""Path normalization: the one place that turns a request path into a document key.

Rules, applied in this order (each is tested in tests/unit/test_paths.py):

1. The query string is never part of the key (the server splits it off before this).
2. Percent-escapes are decoded (``%2F`` becomes ``/`` and so separates segments);
   a malformed escape such as ``%zz`` is an error.
3. The decoded bytes must be valid UTF-8.
4. Control characters (U+0000-U+001F, U+007F-U+009F) are refused.
5. Empty segments are dropped: ``//a///b/`` is ``/a/b`` (no trailing slash, no doubled slash).
6. ``.`` segments are dropped and ``..`` removes the previous segment; a ``..`` that would
   climb above the root is an error.
7. The result, in UTF-8, may be at most ``max_bytes`` long (414 otherwise).
8. Keys are case-sensitive and not Unicode-normalized: ``/A`` and ``/a`` are two documents.

The root ``/`` is the hit counter and ``/-/...`` is reserved for the service itself.
"""

from __future__ import annotations

import re

from pathkv.core.errors import InvalidPath, PathTooLong

ROOT = "/"
RESERVED_PREFIX = "/-/"
DEFAULT_MAX_BYTES = 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})?")
# Already-normal paths skip all the work: printable ASCII, no escapes, no empty or dot segments.
_SIMPLE = re.compile(rb"(?:/(?!\.\.?(?:/|$))[\x21-\x24\x26-\x2e\x30-\x7e]+)+")


def _percent_decode(raw: bytes) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        hex_digits = match.group(1)
        if hex_digits is None:
            raise InvalidPath("malformed percent-escape in path")
        return bytes((int(hex_digits, 16),))

    return _ESCAPE.sub(replace, raw)


def normalize(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Return the canonical key for a raw (still percent-encoded) request path."""
    if len(raw) > 3 * max_bytes + 16:
        raise PathTooLong(f"path longer than {max_bytes} bytes")
    if _SIMPLE.fullmatch(raw):
        if len(raw) > max_bytes:
            raise PathTooLong(f"path longer than {max_bytes} bytes")
        return raw.decode("ascii")
    if not raw.startswith(b"/"):
        raise InvalidPath("path must start with '/'")
    try:
        text = _percent_decode(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPath("path is not valid UTF-8 after percent-decoding") from None
    if _CONTROL.search(text):
        raise InvalidPath("path contains a control character")
    segments: list[str] = []
    for segment in text.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise InvalidPath("'..' climbs above the root")
            segments.pop()
            continue
        segments.append(segment)
    key = ROOT + "/".join(segments)
    if len(key.encode("utf-8")) > max_bytes:
        raise PathTooLong(f"path longer than {max_bytes} bytes")
    return key


def past_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with prefix (None when
    there is none): where a range of keys under a prefix ends."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(last + 1)


def is_reserved(key: str) -> bool:
    """True for ``/-`` and everything below it: the service's own endpoints."""
    return key == "/-" or key.startswith(RESERVED_PREFIX)

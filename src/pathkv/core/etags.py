"""Entity tags and the conditions built from If-Match / If-None-Match (RFC 9110).

An ETag is ``"<version>-<digest>"``: the version changes on every write, the digest names the
content, so a document deleted and written again never reuses the tag of different content.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathkv.core.errors import BadRequest

Tag = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Expect:
    """A write condition the store checks atomically with the write.

    ``exists=False``: the document must be absent (``If-None-Match: *``).
    ``exists=True`` and no tags: it must exist (``If-Match: *``).
    ``exists=True`` with tags: its current tag must be one of them.
    """

    exists: bool
    tags: tuple[Tag, ...] = ()

    def holds(self, current: Tag | None) -> bool:
        if current is None:
            return not self.exists
        if not self.exists:
            return False
        return not self.tags or current in self.tags


MUST_BE_ABSENT = Expect(exists=False)


def format_etag(version: int, digest: str) -> str:
    return f'"{version}-{digest}"'


def _parse_one(raw: str) -> Tag | None:
    """One entity tag; None for a syntactically valid tag that pathkv never issued."""
    item = raw.strip()
    if item.startswith("W/"):
        item = item[2:]
    if len(item) < 2 or item[0] != '"' or item[-1] != '"':
        raise BadRequest(f"malformed entity tag {raw.strip()[:64]!r}")
    version, _, digest = item[1:-1].partition("-")
    if not (version.isascii() and version.isdigit() and len(version) <= 18) or not digest:
        return None
    return int(version), digest


def parse_list(header: str) -> tuple[Tag, ...] | None:
    """Parse an If-Match / If-None-Match value; None means ``*``."""
    if header.strip() == "*":
        return None
    tags = [_parse_one(part) for part in header.split(",") if part.strip()]
    if not tags:
        raise BadRequest("empty entity-tag list")
    return tuple(tag for tag in tags if tag is not None)


def write_condition(if_match: str | None, if_none_match: str | None) -> Expect | None:
    """The condition for PUT/DELETE, or None when the write is unconditional."""
    if if_match is not None:
        tags = parse_list(if_match)
        if tags is None:
            return Expect(exists=True)
        # A list of tags none of which pathkv issued can never match.
        return Expect(exists=True, tags=tags or ((-1, ""),))
    if if_none_match is not None:
        if parse_list(if_none_match) is None:
            return MUST_BE_ABSENT
        raise BadRequest("If-None-Match on a write supports only '*'")
    return None


def none_match(if_none_match: str, current: Tag) -> bool:
    """For GET/HEAD: True when the client's copy is current (answer 304)."""
    tags = parse_list(if_none_match)
    return tags is None or current in tags

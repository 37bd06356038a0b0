"""Entity tags and the conditions built from conditional request headers (RFC 9110, 13).

An ETag is ``"<version>-<digest>"``: the version changes on every write, the digest names the
content, so a document deleted and written again never reuses the tag of different content.
pathkv issues strong tags only: ``If-Match`` compares strongly (a weak tag never matches),
``If-None-Match`` weakly (``W/"1-ab"`` matches ``"1-ab"``).

Precedence (RFC 9110, 13.2.2): ``If-Match`` wins over ``If-Unmodified-Since``, and
``If-None-Match`` over ``If-Modified-Since``; a date that does not parse is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from pathkv.core.errors import BadRequest

Tag = tuple[int, str]
# Tags are bounded so a header cannot make the store's condition check arbitrarily costly.
MAX_TAGS = 64


@dataclass(frozen=True, slots=True)
class Expect:
    """A write condition the store checks atomically with the write.

    ``exists=False``: the document must be absent (``If-None-Match: *``).
    ``exists=True``: it must exist; with ``tags``, its current tag must be one of them;
    with ``unmodified_since`` (Unix seconds), its last write must be at or before it.
    """

    exists: bool
    tags: tuple[Tag, ...] = ()
    unmodified_since: int | None = None

    def holds(self, current: Tag | None, updated_ms: int = 0) -> bool:
        if current is None:
            return not self.exists
        if not self.exists:
            return False
        if self.tags and current not in self.tags:
            return False
        return self.unmodified_since is None or updated_ms // 1000 <= self.unmodified_since


MUST_BE_ABSENT = Expect(exists=False)
# A tag pathkv never issues: the condition of a list none of whose tags can match.
NO_TAG: Tag = (-1, "")
NEVER = Expect(exists=True, tags=(NO_TAG,))


def format_etag(version: int, digest: str) -> str:
    return f'"{version}-{digest}"'


def _parse_one(raw: str) -> tuple[Tag | None, bool]:
    """One entity tag and whether it is weak; None for a valid tag pathkv never issued."""
    item = raw.strip()
    weak = item.startswith("W/")
    if weak:
        item = item[2:]
    if len(item) < 2 or item[0] != '"' or item[-1] != '"':
        raise BadRequest(f"malformed entity tag {raw.strip()[:64]!r}")
    version, _, digest = item[1:-1].partition("-")
    if not (version.isascii() and version.isdigit() and len(version) <= 18) or not digest:
        return None, weak
    return (int(version), digest), weak


def parse_list(header: str, strong: bool) -> tuple[Tag, ...] | None:
    """Parse an If-Match / If-None-Match value; None means ``*``.

    With ``strong``, weak tags are left out: they never match.
    """
    if header.strip() == "*":
        return None
    parts = [part for part in header.split(",") if part.strip()]
    if not parts:
        raise BadRequest("empty entity-tag list")
    if len(parts) > MAX_TAGS:
        raise BadRequest(f"more than {MAX_TAGS} entity tags in one condition")
    tags = []
    for part in parts:
        tag, weak = _parse_one(part)
        if tag is not None and not (weak and strong):
            tags.append(tag)
    return tuple(tags)


def http_date_seconds(value: str | None) -> int | None:
    """Unix seconds of an HTTP-date, or None when absent or not a date (then ignored)."""
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


def write_condition(
    if_match: str | None, if_none_match: str | None, if_unmodified_since: str | None = None
) -> Expect | None:
    """The condition for PUT/DELETE, or None when the write is unconditional."""
    absent = False
    if if_none_match is not None:
        if parse_list(if_none_match, strong=False) is not None:
            raise BadRequest("If-None-Match on a write supports only '*'")
        absent = True
    condition: Expect | None = None
    if if_match is not None:
        tags = parse_list(if_match, strong=True)
        condition = Expect(exists=True) if tags is None else Expect(True, tags or (NO_TAG,))
    else:
        since = http_date_seconds(if_unmodified_since)
        if since is not None:
            condition = Expect(exists=True, unmodified_since=since)
    if absent:
        # The document must be absent and, for the other condition, present: never both.
        return MUST_BE_ABSENT if condition is None else NEVER
    return condition


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, current: Tag, updated_ms: int
) -> bool:
    """For GET/HEAD: True when the client's copy is current (answer 304)."""
    if if_none_match is not None:
        tags = parse_list(if_none_match, strong=False)
        return tags is None or current in tags
    since = http_date_seconds(if_modified_since)
    return since is not None and updated_ms // 1000 <= since

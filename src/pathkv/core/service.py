"""The service: every use case of pathkv, written against the storage contract.

Policy lives here: what a TTL is, what a hit is, what may be written where, how listing
pages are cut. The web layer calls these methods and renders what they return or raise.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from pathkv.core.documents import canonical_body, digest
from pathkv.core.errors import InvalidParameter, MethodNotAllowed, NotFound, PreconditionFailed
from pathkv.core.etags import Expect
from pathkv.core.paths import ROOT, is_reserved
from pathkv.stores.contract import ConditionFailed, Record, Store, Write

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Policy:
    default_ttl: int = 365 * 24 * 3600
    max_ttl: int = 10 * 365 * 24 * 3600
    max_depth: int = 64


@dataclass(frozen=True, slots=True)
class Page:
    paths: list[str]
    next: str | None


def seconds_left(record: Record, now: int) -> int:
    """Remaining lifetime in whole seconds, rounded up (a live document has at least 1)."""
    return max(1, -((now - record.expires_at) // 1000))


def meta_view(record: Record, now: int) -> bytes:
    """The ``?meta=1`` representation, as JSON bytes.

    ``{"path", "data", "last_updated", "ttl", "hits", "version"}``; the stored body is
    spliced in as ``data`` unparsed, so it is exactly what GET serves.
    """
    return b"".join((
        b'{"path":', orjson.dumps(record.path), b',"data":', record.body,
        b',"last_updated":%d,"ttl":%d,"hits":%d,"version":%d}' % (
            record.last_updated // 1000, seconds_left(record, now), record.hits, record.version,
        ),
    ))


def meta_requested(raw: str | None) -> bool:
    """``?meta=1`` or ``?meta=true`` asks for the metadata view; 0, false or absent do not."""
    if raw is None or raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise InvalidParameter("'meta' must be 1, true, 0 or false")


def encode_cursor(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        path = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        if path.startswith(b"/"):
            return path.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidParameter("'after' is not a cursor this service issued")


def parse_int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or not low <= int(raw) <= high:
        raise InvalidParameter(f"'{name}' must be a whole number from {low} to {high}")
    return int(raw)


class Service:
    def __init__(self, store: Store, policy: Policy, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock

    @staticmethod
    def _writable(path: str) -> None:
        if path == ROOT or is_reserved(path):
            raise MethodNotAllowed(
                f"{path} is not a document path; documents live below / outside /-/",
                headers={"allow": "GET, HEAD"},
            )

    def ttl(self, raw: str | None) -> int:
        return parse_int("ttl", raw, self.policy.default_ttl, 1, self.policy.max_ttl)

    async def put(
        self, path: str, content_type: str, body: bytes, ttl: int, expect: Expect | None
    ) -> tuple[Record, bool]:
        self._writable(path)
        stored = canonical_body(content_type, body, self.policy.max_depth)
        now = self.clock()
        write = Write(path, stored, digest(stored), now, now + ttl * 1000)
        try:
            return await self.store.put(write, expect)
        except ConditionFailed:
            raise PreconditionFailed(f"the precondition for {path} does not hold") from None

    async def get(self, path: str, count_hit: bool) -> Record:
        record = await self.store.get(path, self.clock(), count_hit)
        if record is None:
            raise NotFound(f"no document at {path}")
        return record

    async def delete(self, path: str, expect: Expect | None) -> None:
        self._writable(path)
        try:
            found = await self.store.delete(path, self.clock(), expect)
        except ConditionFailed:
            raise PreconditionFailed(f"the precondition for {path} does not hold") from None
        if not found:
            raise NotFound(f"no document at {path}")

    async def count(self) -> int:
        return await self.store.incr_root()

    async def keys(self, prefix: str | None, after: str | None, limit: str | None) -> Page:
        prefix = prefix or ROOT
        if not prefix.startswith(ROOT):
            raise InvalidParameter("'prefix' must start with '/'")
        size = parse_int("limit", limit, DEFAULT_PAGE, 1, MAX_PAGE)
        start = decode_cursor(after) if after else None
        paths = await self.store.keys(prefix, start, size + 1, self.clock())
        if len(paths) > size:
            return Page(paths[:size], encode_cursor(paths[size - 1]))
        return Page(paths, None)

    async def top_hits(self, limit: str | None) -> list[tuple[str, int]]:
        size = parse_int("limit", limit, 10, 1, MAX_PAGE)
        return await self.store.top_hits(size, self.clock())

    async def sweep(self, limit: int = 1000) -> int:
        return await self.store.sweep(self.clock(), limit)

    async def check_ready(self) -> None:
        await self.store.ping()

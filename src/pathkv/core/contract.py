"""The storage contract every engine implements, and the errors it may raise.

A store performs atomic operations only. It does not decide a TTL, parse HTTP or format an
error: it is handed absolute times (Unix milliseconds), conditions and the namespace each
operation acts in, and reports facts. Two namespaces never see each other's documents,
counters, rankings or listings, even for the same path.
The contract test suite (tests/contract/) is the executable form of this file; every engine
(pathkv.stores) implements it, and the core reaches storage through nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from pathkv.core.etags import Expect, Tag
from pathkv.core.namespaces import Namespace


# Tuning: Record and Write are made for every request; frozen dataclasses cost five times as
# much to create (1.3 us against 0.26 us here), so they are plain and treated as read-only.
@dataclass(slots=True)
class Record:
    """A stored document and its metadata. Times are Unix milliseconds."""

    path: str
    body: bytes
    version: int
    digest: str
    last_updated: int
    expires_at: int
    hits: int

    @property
    def tag(self) -> Tag:
        return (self.version, self.digest)


@dataclass(slots=True)
class Write:
    """What to store at a path: the store assigns the version (previous + 1, or 1)."""

    path: str
    body: bytes
    digest: str
    now: int
    expires_at: int


class StoreError(Exception):
    """The store could not perform an operation (unreachable, broken, misconfigured).

    Engines raise it once, where the driver's error is caught, with that error as the cause
    (``raise StoreError(...) from exc``), so logs can show what really happened.
    """


class StoreTimeoutError(StoreError):
    """The store did not answer within its configured timeout."""


class CorruptRecord(StoreError):
    """A stored record is not one pathkv wrote (another tool changed it, or it is damaged)."""


class ConditionFailed(Exception):
    """A write's condition did not hold; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Limits:
    """A namespace's quota, checked by the store atomically with each write (None: no limit).

    Usage counts every document the store holds (expired ones until they are swept) and the
    length of each one's stored body, the compact JSON text GET serves.
    """

    documents: int | None = None
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    documents: int = 0
    bytes: int = 0


class QuotaExceeded(Exception):
    """A write would take a namespace past one of its limits; nothing was changed."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit  # "documents" or "bytes"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One rate limit to count a request against: at most ``limit`` requests per window of
    ``window_ms`` milliseconds.

    A window starts with the first request counted after the previous window ended (not on
    a clock boundary), so a caller that starts sending gets exactly ``limit`` requests in its
    first ``window_ms``, never twice that across a boundary.
    """

    key: str
    limit: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class Taken:
    """What counting a request against its buckets found, bucket by bucket (in order)."""

    allowed: bool
    remaining: tuple[int, ...]
    """Requests left in each bucket's current window (after this one, when allowed)."""
    reset_ms: tuple[int, ...]
    """Milliseconds until each bucket's window ends."""


# A change's place in the feed, in the store's commit order: engines fill both numbers
# (SQLite: (sequence, 0); Redis: its stream id (milliseconds, sequence)).
Position = tuple[int, int]
ORIGIN: Position = (0, 0)


@dataclass(slots=True)
class Change:
    """One entry of the change feed, recorded atomically with the write it describes."""

    position: Position
    namespace: str
    event: str
    """``put``, ``delete`` or ``expire``."""
    path: str
    version: int | None = None
    digest: str | None = None
    last_updated: int | None = None
    """Unix milliseconds, as Record's."""
    expires_at: int | None = None
    body: bytes | None = None
    """The document, in put changes only."""


class CursorExpired(Exception):
    """The feed no longer holds the changes after this position (they were trimmed)."""


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the store takes writes now; when not, why (it may still serve reads)."""

    writable: bool = True
    reason: str | None = None


class Store(ABC):
    """One storage engine. Every method is atomic on its own."""

    @abstractmethod
    async def open(self) -> None:
        """Connect / create schema. Raises StoreError with a clear message on failure."""

    @abstractmethod
    async def close(self) -> None:
        """Flush buffered work and release every resource."""

    async def flush(self) -> None:
        """Write out whatever is buffered (hit counts); nothing to do for most engines."""
        return

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreError unless the store can serve requests now."""

    async def health(self) -> StoreHealth:
        """Whether writes can be made now, and if not, why; raises StoreError when the store
        cannot be reached at all. The serving side asks every few seconds."""
        await self.ping()
        return StoreHealth()

    @abstractmethod
    async def put(
        self, ns: Namespace, write: Write, expect: Expect | None, limits: Limits | None = None
    ) -> tuple[Record, bool]:
        """Store a document; returns the new record and whether it was created.

        Raises ConditionFailed, changing nothing, when expect does not hold, and
        QuotaExceeded when the write would take the namespace's usage past limits (a write
        that does not grow usage is never refused). An expired document counts as absent:
        writing it again creates it at version 1 with 0 hits.
        """

    @abstractmethod
    async def get(self, ns: Namespace, path: str, now: int, count_hit: bool) -> Record | None:
        """The live record at path, or None, with its stored hits; count_hit adds one hit
        (stored with the read, or buffered until the next flush)."""

    @abstractmethod
    async def delete(self, ns: Namespace, path: str, now: int, expect: Expect | None) -> bool:
        """Remove a live document; False when there was none. Raises ConditionFailed."""

    @abstractmethod
    async def keys(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        limit: int,
        now: int,
        inclusive: bool = False,
    ) -> list[str]:
        """Live paths starting with prefix and greater than after (or equal to it, with
        inclusive), ascending, at most limit."""

    async def level(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        inclusive: bool,
        limit: int,
        delimiter: str,
        now: int,
    ) -> list[tuple[str, bool]] | None:
        """One level of the listing in one call, as (name, is a folder) pairs (see
        core/levels.py), for an engine that can; None: the caller walks ``keys``."""
        return None

    @abstractmethod
    async def records(self, ns: Namespace, after: str | None, limit: int, now: int) -> list[Record]:
        """Live records with a path greater than after, ascending by path (for export)."""

    @abstractmethod
    async def restore(self, ns: Namespace, record: Record, now: int) -> bool:
        """Write a record as it is (version, times, hits) unless a newer version is there.

        Returns False, changing nothing, when the stored version is equal or higher.
        """

    async def restore_many(self, items: list[tuple[Namespace, Record]], now: int) -> list[bool]:
        """restore, for each (namespace, record) in order; an engine may do them together
        (one transaction, calls in parallel)."""
        return [await self.restore(ns, record, now) for ns, record in items]

    @abstractmethod
    async def incr_root(self, ns: Namespace, by: int = 1) -> int:
        """Add by (1, or 0 to read it) to the namespace's counter (``GET /``) and return the
        new value."""

    @abstractmethod
    async def top_hits(self, ns: Namespace, limit: int, now: int) -> list[tuple[str, int]]:
        """Live paths with at least one hit, most hits first (ties by path)."""

    @abstractmethod
    async def sweep(self, ns: Namespace, now: int, limit: int) -> int:
        """Physically remove up to limit expired documents; returns how many."""

    @abstractmethod
    async def namespaces(self) -> list[Namespace]:
        """Every namespace that has ever held a document, ``default`` always among them."""

    @abstractmethod
    async def usage(self, ns: Namespace) -> Usage:
        """The documents the namespace holds and the bytes of their bodies."""

    @abstractmethod
    async def drop(self, ns: Namespace) -> None:
        """Remove every document of the namespace, its counter and ranking."""

    @abstractmethod
    async def take(self, buckets: list[Bucket], now: int) -> Taken:
        """Count one request against every bucket, atomically across every process sharing
        the store: when a bucket is full, count nothing and report not allowed."""

    # The change feed: every put, delete and expiry, recorded with the write.

    @abstractmethod
    async def changes(
        self, after: Position, limit: int, ns: Namespace | None = None
    ) -> list[Change]:
        """Changes after a position, in commit order, at most limit (of ns only, when
        given). Raises CursorExpired when changes after it have been trimmed."""

    @abstractmethod
    async def next_changes(self, after: Position, limit: int, wait: float) -> list[Change]:
        """Changes of every namespace after a position; when there are none yet, waits up to
        wait seconds for some (the one reader that feeds a worker's watchers)."""

    @abstractmethod
    async def present(self) -> Position:
        """The position of the latest change (ORIGIN when there is none)."""

    @abstractmethod
    async def trim_changes(self, now: int, max_age_ms: int, max_events: int) -> None:
        """Forget changes older than max_age_ms, and all but the latest max_events."""

    # Accounts (tenants, tokens): small JSON records by kind and key, outside namespaces.

    @abstractmethod
    async def account_get(self, kind: str, key: str) -> bytes | None:
        """The record stored under (kind, key), or None."""

    @abstractmethod
    async def account_put(self, kind: str, key: str, value: bytes) -> bool:
        """Store a record; True when it was created."""

    @abstractmethod
    async def account_delete(self, kind: str, key: str) -> bool:
        """Remove a record; False when there was none."""

    @abstractmethod
    async def account_list(self, kind: str) -> list[tuple[str, bytes]]:
        """Every record of a kind, by key."""

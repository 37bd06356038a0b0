"""The storage contract every engine implements, and the errors it may raise.

A store performs atomic operations only. It does not decide a TTL, parse HTTP or format an
error: it is handed absolute times (Unix milliseconds) and conditions, and reports facts.
The contract test suite (tests/contract/) is the executable form of this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pathkv.core.etags import Expect, Tag


# Record and Write are made for every request; frozen dataclasses cost five times as much
# to create (1.3 us against 0.26 us here), so they are plain and treated as read-only.
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
    """The store could not perform an operation (unreachable, broken, misconfigured)."""


class StoreTimeoutError(StoreError):
    """The store did not answer within its configured timeout."""


class ConditionFailed(Exception):
    """A write's condition did not hold; nothing was changed."""


class Store(Protocol):
    """One storage engine. Every method is atomic on its own."""

    # True when the store's work runs outside the event loop's thread (a server over the
    # network), so the loop waits on it for every call; see web/process.py.
    works_off_loop: bool

    async def open(self) -> None:
        """Connect / create schema. Raises StoreError with a clear message on failure."""

    async def close(self) -> None:
        """Flush buffered work and release every resource."""

    async def ping(self) -> None:
        """Raise StoreError unless the store can serve requests now."""

    async def put(self, write: Write, expect: Expect | None) -> tuple[Record, bool]:
        """Store a document; returns the new record and whether it was created.

        Raises ConditionFailed, changing nothing, when expect does not hold. An expired
        document counts as absent: writing it again creates it at version 1 with 0 hits.
        """

    async def get(self, path: str, now: int, count_hit: bool) -> Record | None:
        """The live record at path, or None; count_hit adds one hit (visible within 1 s)."""

    async def delete(self, path: str, now: int, expect: Expect | None) -> bool:
        """Remove a live document; False when there was none. Raises ConditionFailed."""

    async def keys(self, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        """Live paths starting with prefix and greater than after, ascending, at most limit."""

    async def records(self, after: str | None, limit: int, now: int) -> list[Record]:
        """Live records with a path greater than after, ascending by path (for export)."""

    async def restore(self, record: Record, now: int) -> bool:
        """Write a record as it is (version, times, hits) unless a newer version is there.

        Returns False, changing nothing, when the stored version is equal or higher.
        """

    async def incr_root(self) -> int:
        """Add one to the service-wide counter and return the new value."""

    async def top_hits(self, limit: int, now: int) -> list[tuple[str, int]]:
        """Live paths with at least one hit, most hits first (ties by path)."""

    async def sweep(self, now: int, limit: int) -> int:
        """Physically remove up to limit expired documents; returns how many."""

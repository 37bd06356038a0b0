"""The service: every use case of pathkv, written against the storage contract.

Policy lives here: what a TTL is, what a hit is, what may be written where, how listing
pages are cut. The web layer parses HTTP into typed values, calls these methods and renders
what they return or raise. Every method acts in the namespace it is given.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from pathkv.core.contract import ConditionFailed, QuotaExceeded, Record, Store, StoreError, Write
from pathkv.core.cursors import decode_cursor, encode_cursor
from pathkv.core.documents import canonical_body, digest
from pathkv.core.errors import (
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    OverQuota,
    PayloadTooLarge,
    PreconditionFailed,
)
from pathkv.core.etags import Expect, format_etag
from pathkv.core.levels import check_delimiter, list_level
from pathkv.core.namespaces import Namespace
from pathkv.core.paths import ROOT, is_reserved
from pathkv.core.tenants import Quota

DEFAULT_PAGE = 100
MAX_PAGE = 1000
DEFAULT_TOP = 10


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Policy:
    default_ttl: int = 365 * 24 * 3600
    max_ttl: int = 10 * 365 * 24 * 3600
    max_depth: int = 64
    changes_max_age: float = 24 * 3600
    changes_max_events: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    paths: list[str]
    next: str | None
    prefixes: list[str] | None = None
    """With a delimiter: the child folders on this page (None without one)."""


def seconds_left(record: Record, now: int) -> int:
    """Remaining lifetime in whole seconds, rounded up (a live document has at least 1)."""
    return max(1, -((now - record.expires_at) // 1000))


def etag_of(record: Record) -> str:
    return format_etag(record.version, record.digest)


def meta_view(record: Record, now: int) -> bytes:
    """The ``?meta=1`` representation, as JSON bytes.

    ``{"path", "data", "last_updated", "ttl", "hits", "version", "etag"}``; the stored body
    is spliced in as ``data`` unparsed, so it is exactly what GET serves.
    """
    return b"".join(
        (
            b'{"path":',
            orjson.dumps(record.path),
            b',"data":',
            record.body,
            b',"last_updated":%d,"ttl":%d,"hits":%d,"version":%d,"etag":'
            % (
                record.last_updated // 1000,
                seconds_left(record, now),
                record.hits,
                record.version,
            ),
            orjson.dumps(etag_of(record)),
            b"}",
        )
    )


def within(name: str, value: int | None, default: int, low: int, high: int) -> int:
    """value, or default when it is None; InvalidParameter outside low..high."""
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidParameter(f"'{name}' must be a whole number from {low} to {high}")
    return value


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

    async def put(
        self,
        ns: Namespace,
        path: str,
        content_type: str,
        body: bytes,
        ttl: int | None,
        expect: Expect | None,
        quota: Quota | None = None,
    ) -> tuple[Record, bool]:
        """Store a document; quota is the tenant's, checked with the write (the store
        refuses what would take its usage past it)."""
        self._writable(path)
        seconds = within("ttl", ttl, self.policy.default_ttl, 1, self.policy.max_ttl)
        stored = canonical_body(content_type, body, self.policy.max_depth)
        limits = None
        if quota is not None:
            if quota.document_bytes is not None and len(stored) > quota.document_bytes:
                raise PayloadTooLarge(
                    f"the document is {len(stored)} bytes of JSON; this tenant's quota allows "
                    f"{quota.document_bytes} per document (quota.document_bytes)"
                )
            limits = quota.limits()
        now = self.clock()
        write = Write(path, stored, digest(stored), now, now + seconds * 1000)
        try:
            return await self.store.put(ns, write, expect, limits)
        except ConditionFailed:
            raise await self._precondition_failed(ns, path) from None
        except QuotaExceeded as exc:
            allowed = quota.documents if exc.limit == "documents" else quota.bytes  # type: ignore[union-attr]
            raise OverQuota(
                f"this write would take the tenant past its quota.{exc.limit} ({allowed}); "
                "nothing was stored",
                members={"quota": exc.limit, "limit": allowed},
            ) from None

    async def _precondition_failed(self, ns: Namespace, path: str) -> PreconditionFailed:
        """The 412, carrying the document's current ETag so a client can retry at once."""
        current = await self.store.get(ns, path, self.clock(), count_hit=False)
        headers = {"etag": etag_of(current)} if current is not None else {}
        return PreconditionFailed(f"the precondition for {path} does not hold", headers)

    async def get(
        self, ns: Namespace, path: str, count_hit: bool, show_hits: bool = False
    ) -> Record:
        """show_hits: the record's hits are shown (``?meta=1``), so settle them first."""
        if show_hits:
            await self._settle_hits()
        record = await self.store.get(ns, path, self.clock(), count_hit)
        if record is None:
            raise NotFound(f"no document at {path}")
        return record

    async def delete(self, ns: Namespace, path: str, expect: Expect | None) -> None:
        self._writable(path)
        try:
            found = await self.store.delete(ns, path, self.clock(), expect)
        except ConditionFailed:
            raise await self._precondition_failed(ns, path) from None
        if not found:
            raise NotFound(f"no document at {path}")

    async def count(self, ns: Namespace, add: bool = True) -> int:
        """The namespace's counter after adding one (``GET /``), or as it is."""
        return await self.store.incr_root(ns, 1 if add else 0)

    async def keys(
        self,
        ns: Namespace,
        prefix: str | None,
        after: str | None,
        limit: int | None,
        delimiter: str | None = None,
    ) -> Page:
        prefix = ROOT if prefix is None else prefix
        if not prefix.startswith(ROOT):
            raise InvalidParameter("'prefix' must start with '/'")
        size = within("limit", limit, DEFAULT_PAGE, 1, MAX_PAGE)
        start = decode_cursor(after) if after else None
        if delimiter is not None:
            entries = await list_level(
                self.store, ns, prefix, start, size + 1, check_delimiter(delimiter), self.clock()
            )
            shown = entries[:size]
            return Page(
                [e.name for e in shown if not e.folder],
                encode_cursor(shown[-1].cursor) if len(entries) > size else None,
                [e.name for e in shown if e.folder],
            )
        paths = await self.store.keys(ns, prefix, start, size + 1, self.clock())
        if len(paths) > size:
            return Page(paths[:size], encode_cursor(paths[size - 1]))
        return Page(paths, None)

    async def top_hits(self, ns: Namespace, limit: int | None) -> list[tuple[str, int]]:
        size = within("limit", limit, DEFAULT_TOP, 1, MAX_PAGE)
        await self._settle_hits()
        return await self.store.top_hits(ns, size, self.clock())

    async def _settle_hits(self) -> None:
        """The one rule for hit counts (README, "Expiry and hits"): both views, ``?meta=1``
        and ``/-/hits``, read the counts as stored, after this worker has stored the hits
        it buffers; other workers' buffered hits arrive within their flush interval. When
        the store cannot take them now, the views show what it has."""
        with contextlib.suppress(StoreError):
            await self.store.flush()

    async def sweep(self, limit: int = 1000) -> int:
        """Remove up to limit expired documents in every namespace, and trim the change
        feed to what it keeps."""
        removed = 0
        for ns in await self.store.namespaces():
            removed += await self.store.sweep(ns, self.clock(), limit)
        await self.store.trim_changes(
            self.clock(), int(self.policy.changes_max_age * 1000), self.policy.changes_max_events
        )
        return removed

"""The store's side of tenants, on every engine: usage kept with every write, quotas checked
atomically with it, rate-limit windows, dropping a namespace, and account records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pathkv.config import Settings
from pathkv.core.contract import (
    ORIGIN,
    Bucket,
    Limits,
    QuotaExceeded,
    Record,
    Store,
    Usage,
    Write,
)
from pathkv.core.documents import digest
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.service import now_ms
from pathkv.stores.registry import open_store

TEAM = Namespace("team-a")
OTHER = Namespace("team-b")


def write(path: str, body: bytes, ttl_ms: int = 60_000) -> Write:
    now = now_ms()
    return Write(path, body, digest(body), now, now + ttl_ms)


async def test_usage_follows_every_write_and_removal(engine: Store) -> None:
    assert await engine.usage(TEAM) == Usage(0, 0)
    await engine.put(TEAM, write("/a", b'{"x":1}'), None)  # 7 bytes
    await engine.put(TEAM, write("/b", b'{"y":"abc"}'), None)  # 11 bytes
    assert await engine.usage(TEAM) == Usage(2, 18)
    await engine.put(TEAM, write("/a", b'{"x":12345}'), None)  # replaced: 11 bytes
    assert await engine.usage(TEAM) == Usage(2, 22)
    assert await engine.delete(TEAM, "/b", now_ms(), None)
    assert await engine.usage(TEAM) == Usage(1, 11)
    assert await engine.usage(OTHER) == Usage(0, 0)
    body = b'{"r":true}'
    record = Record("/r", body, 3, digest(body), now_ms(), now_ms() + 60_000, 2)
    assert await engine.restore(TEAM, record, now_ms())
    assert await engine.usage(TEAM) == Usage(2, 21)


async def test_expired_documents_leave_usage_by_the_next_sweep(engine: Store) -> None:
    await engine.put(TEAM, write("/short", b'{"a":1}', ttl_ms=50), None)
    await engine.put(TEAM, write("/long", b'{"b":2}'), None)
    await asyncio.sleep(0.2)
    await engine.sweep(TEAM, now_ms(), 1000)
    assert await engine.usage(TEAM) == Usage(1, 7)


async def test_document_quota_refuses_creates_but_not_replacements(engine: Store) -> None:
    limits = Limits(documents=2)
    await engine.put(TEAM, write("/1", b"{}"), None, limits)
    await engine.put(TEAM, write("/2", b"{}"), None, limits)
    with pytest.raises(QuotaExceeded) as refused:
        await engine.put(TEAM, write("/3", b"{}"), None, limits)
    assert refused.value.limit == "documents"
    assert await engine.get(TEAM, "/3", now_ms(), False) is None
    record, created = await engine.put(TEAM, write("/2", b'{"again":1}'), None, limits)
    assert not created and record.version == 2
    assert await engine.usage(TEAM) == Usage(2, 13)
    await engine.delete(TEAM, "/1", now_ms(), None)  # deleting frees
    await engine.put(TEAM, write("/3", b"{}"), None, limits)


async def test_byte_quota_counts_the_difference_and_never_refuses_a_shrink(
    engine: Store,
) -> None:
    limits = Limits(bytes=20)
    await engine.put(TEAM, write("/a", b'{"x":"0123456789"}'), None, limits)  # 18
    with pytest.raises(QuotaExceeded) as refused:
        await engine.put(TEAM, write("/b", b'{"y":1}'), None, limits)  # 18 + 7 > 20
    assert refused.value.limit == "bytes"
    await engine.put(TEAM, write("/a", b'{"x":"01234567890"}'), None, limits)  # 19: fits
    # over a quota lowered below usage, a smaller write still goes through
    await engine.put(TEAM, write("/a", b'{"x":"0"}'), None, Limits(bytes=5))
    assert await engine.usage(TEAM) == Usage(1, 9)


async def test_the_quota_holds_under_concurrency(engine: Store) -> None:
    limits = Limits(documents=10)
    outcomes = await asyncio.gather(
        *(engine.put(TEAM, write(f"/race/{i}", b"{}"), None, limits) for i in range(32)),
        return_exceptions=True,
    )
    assert sum(1 for o in outcomes if isinstance(o, tuple)) == 10
    assert all(isinstance(o, tuple | QuotaExceeded) for o in outcomes)
    assert (await engine.usage(TEAM)).documents == 10


async def test_drop_removes_one_namespace_only(engine: Store) -> None:
    for ns in (TEAM, OTHER):
        await engine.put(ns, write("/doc", b'{"a":1}'), None)
        await engine.get(ns, "/doc", now_ms(), True)
        await engine.incr_root(ns)
    await engine.flush()
    await engine.drop(TEAM)
    assert await engine.get(TEAM, "/doc", now_ms(), False) is None
    assert await engine.keys(TEAM, "/", None, 10, now_ms()) == []
    assert await engine.top_hits(TEAM, 10, now_ms()) == []
    assert await engine.incr_root(TEAM, 0) == 0
    assert await engine.usage(TEAM) == Usage(0, 0)
    assert TEAM not in await engine.namespaces()
    assert (await engine.get(OTHER, "/doc", now_ms(), False)) is not None
    assert await engine.incr_root(OTHER, 0) == 1
    assert await engine.usage(OTHER) == Usage(1, 7)


async def test_rate_windows_count_and_refuse_without_counting(engine: Store) -> None:
    tight = Bucket("test:tight", 3, 60_000)
    loose = Bucket("test:loose", 100, 60_000)
    results = [await engine.take([tight, loose], now_ms()) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.remaining for r in results[:3]] == [(2, 99), (1, 98), (0, 97)]
    assert results[3].remaining[0] == 0
    assert all(0 < reset <= 60_000 for r in results for reset in r.reset_ms)
    # refused requests were counted in no bucket
    alone = await engine.take([loose], now_ms())
    assert alone.allowed and alone.remaining == (96,)


async def test_a_rate_window_ends(engine: Store) -> None:
    bucket = Bucket("test:short", 1, 200)
    assert (await engine.take([bucket], now_ms())).allowed
    await asyncio.sleep(0.45)
    assert (await engine.take([bucket], now_ms())).allowed


async def test_concurrent_takes_accept_exactly_the_limit(engine: Store) -> None:
    bucket = Bucket("test:race", 25, 60_000)
    results = await asyncio.gather(*(engine.take([bucket], now_ms()) for _ in range(60)))
    assert sum(r.allowed for r in results) == 25


async def test_account_records(engine: Store) -> None:
    assert await engine.account_get("tenant", "a") is None
    assert await engine.account_put("tenant", "a", b'{"v":1}')
    assert not await engine.account_put("tenant", "a", b'{"v":2}')
    await engine.account_put("tenant", "b", b'{"v":3}')
    await engine.account_put("token", "a", b'{"other":"kind"}')
    assert await engine.account_get("tenant", "a") == b'{"v":2}'
    assert await engine.account_list("tenant") == [("a", b'{"v":2}'), ("b", b'{"v":3}')]
    assert await engine.account_delete("tenant", "a")
    assert not await engine.account_delete("tenant", "a")
    assert await engine.account_list("tenant") == [("b", b'{"v":3}')]
    assert await engine.account_get("token", "a") == b'{"other":"kind"}'


async def test_a_namespace_is_listed_once_it_holds_a_document(engine: Store) -> None:
    late = Namespace("late-" + str(now_ms() % 100000))
    await engine.usage(late)
    await engine.get(late, "/a", now_ms(), True)
    assert late not in await engine.namespaces()
    await engine.put(late, write("/a", b"{}"), None)
    assert late in await engine.namespaces()
    await engine.drop(late)
    assert late not in await engine.namespaces()
    await engine.put(late, write("/b", b"{}"), None)
    assert late in await engine.namespaces()


async def test_a_file_of_the_previous_release_counts_its_usage(tmp_path: Path) -> None:
    """A version 2 file (namespaces, no usage) is migrated: usage is computed from its rows,
    and the feed and accounts start empty."""
    import sqlite3

    from pathkv.stores.sqlite import schema

    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for statement in schema.TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)
    now = now_ms()
    for ns, name, body in (("default", "/a", b'{"a":1}'), ("acme", "/b", b'{"bb":22}')):
        conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, 1, ?, ?, ?, 0)",
            (ns, name, body, digest(body), now, now + 60_000),
        )
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = open_store(Settings(store=f"sqlite:///{path}"))
    await store.open()
    try:
        assert await store.usage(Namespace("default")) == Usage(1, 7)
        assert await store.usage(Namespace("acme")) == Usage(1, 9)
        assert await store.changes(ORIGIN, 10) == []
        assert await store.account_list("tenant") == []
    finally:
        await store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    check.close()


async def test_a_version_3_file_keeps_its_hits(tmp_path: Path) -> None:
    """A version 3 file (hits in the documents' rows) is migrated: the counts move to the
    hits table, and go on from there."""
    import sqlite3

    from pathkv.stores.sqlite import schema

    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    schema._run(conn, schema.TABLES + schema.ACCOUNTS)
    now = now_ms()
    for name, hits in (("/seen", 7), ("/unseen", 0), ("/most", 12)):
        conn.execute(
            "INSERT INTO documents VALUES ('default', ?, ?, 1, ?, ?, ?, ?)",
            (name, b"{}", digest(b"{}"), now, now + 60_000, hits),
        )
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 3")
    conn.execute("COMMIT")
    conn.close()
    store = open_store(Settings(store=f"sqlite:///{path}"))
    await store.open()
    try:
        got = await store.get(DEFAULT, "/seen", now_ms(), count_hit=True)
        assert got is not None and got.hits == 7
        await store.flush()
        assert await store.top_hits(DEFAULT, 10, now_ms()) == [("/most", 12), ("/seen", 8)]
        assert await store.usage(DEFAULT) == Usage(3, 6)
        await store.delete(DEFAULT, "/most", now_ms(), None)
        assert await store.top_hits(DEFAULT, 10, now_ms()) == [("/seen", 8)]
    finally:
        await store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    check.close()

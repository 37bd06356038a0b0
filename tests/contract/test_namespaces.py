"""Two namespaces on one engine never see each other's data, for every operation; and data
written by the layout before namespaces is the default namespace's after the upgrade."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pathkv.config import Settings
from pathkv.core.contract import Record, Store, StoreError, Write
from pathkv.core.documents import digest
from pathkv.core.etags import Expect
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.service import now_ms
from pathkv.stores.registry import open_store
from tests.contract.conftest import OTHER
from tests.servers import RedisServer

THIRD = Namespace("team-3")


def write(path: str, body: bytes, ttl_ms: int = 60_000) -> Write:
    now = now_ms()
    return Write(path, body, digest(body), now, now + ttl_ms)


async def test_same_path_in_two_namespaces_is_two_documents(engine: Store) -> None:
    first, created_a = await engine.put(DEFAULT, write("/shared", b'{"ns":"default"}'), None)
    second, created_b = await engine.put(OTHER, write("/shared", b'{"ns":"acme"}'), None)
    assert created_a and created_b and first.version == second.version == 1
    got_a = await engine.get(DEFAULT, "/shared", now_ms(), count_hit=True)
    got_b = await engine.get(OTHER, "/shared", now_ms(), count_hit=False)
    assert got_a is not None and got_a.body == b'{"ns":"default"}'
    assert got_b is not None and got_b.body == b'{"ns":"acme"}'
    assert await engine.get(THIRD, "/shared", now_ms(), count_hit=True) is None
    # conditions see only their own namespace's document
    replaced, created = await engine.put(
        OTHER, write("/shared", b'{"v":2}'), Expect(True, (second.tag,))
    )
    assert not created and replaced.version == 2
    again = await engine.get(DEFAULT, "/shared", now_ms(), count_hit=False)
    assert again is not None and again.version == 1


async def test_listing_ranking_and_export_stay_in_their_namespace(engine: Store) -> None:
    for i in range(3):
        await engine.put(DEFAULT, write(f"/list/d{i}", b"{}"), None)
    await engine.put(OTHER, write("/list/o", b"{}"), None)
    now = now_ms()
    assert await engine.keys(DEFAULT, "/list/", None, 10, now) == [f"/list/d{i}" for i in range(3)]
    assert await engine.keys(OTHER, "/list/", None, 10, now) == ["/list/o"]
    assert await engine.keys(THIRD, "/", None, 10, now) == []
    assert [r.path for r in await engine.records(OTHER, None, 10, now)] == ["/list/o"]
    for _ in range(2):
        await engine.get(OTHER, "/list/o", now_ms(), count_hit=True)
    await engine.get(DEFAULT, "/list/d0", now_ms(), count_hit=True)
    await engine.flush()
    await asyncio.sleep(0.05)
    assert await engine.top_hits(OTHER, 10, now_ms()) == [("/list/o", 2)]
    assert await engine.top_hits(DEFAULT, 10, now_ms()) == [("/list/d0", 1)]
    assert await engine.top_hits(THIRD, 10, now_ms()) == []
    assert {DEFAULT, OTHER} <= set(await engine.namespaces())


async def test_counters_are_per_namespace(engine: Store) -> None:
    start = await engine.incr_root(DEFAULT)
    values = await asyncio.gather(*(engine.incr_root(ns) for ns in [OTHER, THIRD] * 5))
    assert sorted(values[0::2]) == [1, 2, 3, 4, 5] and sorted(values[1::2]) == [1, 2, 3, 4, 5]
    assert await engine.incr_root(DEFAULT) == start + 1


async def test_delete_restore_and_sweep_stay_in_their_namespace(engine: Store) -> None:
    await engine.put(DEFAULT, write("/del", b"{}"), None)
    assert await engine.delete(OTHER, "/del", now_ms(), None) is False
    assert await engine.get(DEFAULT, "/del", now_ms(), count_hit=False) is not None
    now = now_ms()
    record = Record("/restored", b"{}", 5, digest(b"{}"), now, now + 60_000, 0)
    assert await engine.restore(OTHER, record, now) is True
    assert await engine.get(DEFAULT, "/restored", now_ms(), count_hit=False) is None
    assert await engine.restore(DEFAULT, record, now) is True
    await engine.put(OTHER, write("/short", b"{}", ttl_ms=100), None)
    await engine.put(DEFAULT, write("/short", b"{}", ttl_ms=100), None)
    await asyncio.sleep(0.25)
    await engine.sweep(DEFAULT, now_ms(), 100)
    assert await engine.get(OTHER, "/restored", now_ms(), count_hit=False) is not None
    assert await engine.keys(OTHER, "/short", None, 10, now_ms()) == []
    assert await engine.keys(OTHER, "/", None, 10, now_ms()) == ["/restored"]


# the previous layout ----------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE documents (path TEXT PRIMARY KEY, body BLOB NOT NULL, version INTEGER NOT NULL,
    digest TEXT NOT NULL, last_updated INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX documents_expires_at ON documents (expires_at);
CREATE INDEX documents_hits ON documents (hits);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""


def _v1_file(path: Path) -> None:
    now = now_ms()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(V1_SCHEMA)
    conn.execute(
        "INSERT INTO documents VALUES ('/old/a', ?, 4, ?, ?, ?, 9)",
        (b'{"old":true}', digest(b'{"old":true}'), now - 1000, now + 3_600_000),
    )
    conn.execute("INSERT INTO counters VALUES ('root', 41)")
    conn.commit()
    conn.close()


async def test_a_sqlite_file_of_the_previous_layout_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_file(path)
    # several processes' stores open it at once: one migrates, the others wait and see it done
    stores = [open_store(Settings(store=f"sqlite:///{path}")) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        for store in stores:
            got = await store.get(DEFAULT, "/old/a", now_ms(), count_hit=False)
            assert got is not None and (got.body, got.version, got.hits) == (b'{"old":true}', 4, 9)
        assert await stores[0].incr_root(DEFAULT) == 42
        assert await stores[1].get(OTHER, "/old/a", now_ms(), count_hit=False) is None
    finally:
        for store in stores:
            await store.close()


async def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    store = open_store(Settings(store=f"sqlite:///{path}"))
    with pytest.raises(StoreError, match="not a pathkv database"):
        await store.open()
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"invoices"}


@pytest.mark.redis
async def test_redis_keys_of_the_previous_layout_keep_working(
    redis_servers: dict[str, RedisServer],
) -> None:
    server = next(iter(redis_servers.values()))
    now = now_ms()
    body = b'{"old":1}'
    # exactly what the previous layout wrote, by raw commands
    value = f"3:{digest(body)}:{now}:{now + 3_600_000}:-:".encode() + body
    server.command("SET", "v1:d:/old/b", value.decode(), "PXAT", str(now + 3_600_000))
    server.command("ZADD", "v1:keys", "0", "/old/b")
    server.command("ZADD", "v1:hits", "7", "/old/b")
    server.command("SET", "v1:count", "10")
    store = open_store(Settings(store=server.url, redis_prefix="v1:"))
    await store.open()
    try:
        got = await store.get(DEFAULT, "/old/b", now_ms(), count_hit=True)
        assert got is not None and (got.body, got.version, got.hits) == (body, 3, 8)
        assert await store.keys(DEFAULT, "/old/", None, 10, now_ms()) == ["/old/b"]
        assert await store.incr_root(DEFAULT) == 11
        assert await store.get(OTHER, "/old/b", now_ms(), count_hit=False) is None
    finally:
        await store.close()


@pytest.mark.redis
async def test_a_redis_keyspace_without_an_expiry_index_is_swept_whole_once(
    redis_servers: dict[str, RedisServer],
) -> None:
    """Documents written before the expiry index existed: the first sweep walks the whole
    index (and completes the expiry index); later sweeps read only what is due."""
    server = next(iter(redis_servers.values()))
    prefix = f"v3-{now_ms()}:"
    now = now_ms()
    for name, lifetime in (("/old/short", 150), ("/old/long", 3_600_000)):
        body = b'{"old":1}'
        value = f"1:{digest(body)}:{now}:{now + lifetime}:-:".encode() + body
        server.command("SET", f"{prefix}d:{name}", value.decode(), "PXAT", str(now + lifetime))
        server.command("ZADD", f"{prefix}keys", "0", name)
        server.command("HSET", f"{prefix}sizes", name, str(len(body)))
        server.command("HINCRBY", f"{prefix}usage", "documents", "1")
    store = open_store(Settings(store=server.url, redis_prefix=prefix))
    await store.open()
    try:
        await asyncio.sleep(0.3)
        assert server.command("EXISTS", f"{prefix}indexed") == b":0\r\n"
        assert await store.sweep(DEFAULT, now_ms(), 1000) == 1
        assert server.command("EXISTS", f"{prefix}indexed") == b":1\r\n"
        assert server.command("ZSCORE", f"{prefix}expiry", "/old/long") != b"$-1\r\n"
        assert await store.keys(DEFAULT, "/old/", None, 10, now_ms()) == ["/old/long"]
        await store.put(DEFAULT, write("/new/short", b"{}", ttl_ms=100), None)
        await asyncio.sleep(0.25)
        assert await store.sweep(DEFAULT, now_ms(), 1000) == 1
        assert await store.keys(DEFAULT, "/", None, 10, now_ms()) == ["/old/long"]
    finally:
        await store.close()

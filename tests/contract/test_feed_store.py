"""The change feed's store side, on every engine: every put, delete and expiry recorded with
the write, in commit order; positions to resume from; trimming, and expired cursors."""

from __future__ import annotations

import asyncio

import pytest

from pathkv.core.contract import ORIGIN, Change, CursorExpired, Record, Store, Write
from pathkv.core.documents import digest
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.service import now_ms

TEAM = Namespace("feed-team")


def write(path: str, body: bytes, ttl_ms: int = 60_000) -> Write:
    now = now_ms()
    return Write(path, body, digest(body), now, now + ttl_ms)


async def test_every_write_is_one_change_in_commit_order(engine: Store) -> None:
    start = await engine.present()
    first, _ = await engine.put(TEAM, write("/a", b'{"v":1}'), None)
    await engine.put(TEAM, write("/a", b'{"v":2}'), None)
    await engine.put(DEFAULT, write("/other", b"{}"), None)
    assert await engine.delete(TEAM, "/a", now_ms(), None)
    changes = await engine.changes(start, 100)
    assert [(c.namespace, c.event, c.path) for c in changes] == [
        ("feed-team", "put", "/a"),
        ("feed-team", "put", "/a"),
        ("default", "put", "/other"),
        ("feed-team", "delete", "/a"),
    ]
    put = changes[0]
    assert put.version == 1 and put.body == b'{"v":1}' and put.digest == first.digest
    assert put.last_updated is not None and put.expires_at is not None
    assert put.expires_at - put.last_updated == 60_000
    assert changes[1].version == 2 and changes[3].version == 2 and changes[3].body is None
    positions = [c.position for c in changes]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert await engine.present() == positions[-1]
    # one namespace's, and from a position on
    mine = await engine.changes(start, 100, TEAM)
    assert [c.path for c in mine] == ["/a", "/a", "/a"]
    assert [c.event for c in await engine.changes(positions[1], 100)] == ["put", "delete"]
    assert len(await engine.changes(start, 2)) == 2


async def test_large_bodies_come_back_whole(engine: Store) -> None:
    start = await engine.present()
    body = b'{"text":"' + b"x" * 5000 + b'"}'
    await engine.put(TEAM, write("/big", body), None)
    (change,) = await engine.changes(start, 10)
    assert change.body == body


async def test_expiry_is_a_change(engine: Store) -> None:
    start = await engine.present()
    await engine.put(TEAM, write("/short", b"{}", ttl_ms=50), None)
    await asyncio.sleep(0.2)
    await engine.sweep(TEAM, now_ms(), 1000)
    events = [(c.event, c.path) for c in await engine.changes(start, 10)]
    assert events == [("put", "/short"), ("expire", "/short")]


async def test_a_write_over_an_expired_document_reports_the_expiry_first(
    engine: Store,
) -> None:
    start = await engine.present()
    await engine.put(TEAM, write("/again", b"{}", ttl_ms=50), None)
    await asyncio.sleep(0.2)
    record, created = await engine.put(TEAM, write("/again", b'{"n":2}'), None)
    assert created and record.version == 1
    events = [(c.event, c.version) for c in await engine.changes(start, 10)]
    assert events[0] == ("put", 1) and events[-1] == ("put", 1)
    assert [e for e, _ in events] == ["put", "expire", "put"]


async def test_restores_are_changes(engine: Store) -> None:
    start = await engine.present()
    body = b'{"r":1}'
    now = now_ms()
    await engine.restore(TEAM, Record("/r", body, 4, digest(body), now, now + 60_000, 0), now)
    (change,) = await engine.changes(start, 10)
    assert (change.event, change.version, change.body) == ("put", 4, body)


async def test_the_reader_waits_for_the_next_change(engine: Store) -> None:
    start = await engine.present()
    assert await engine.next_changes(start, 10, 0.05) == []

    async def later() -> None:
        await asyncio.sleep(0.1)
        await engine.put(TEAM, write("/later", b"{}"), None)

    task = asyncio.create_task(later())
    changes = await engine.next_changes(start, 10, 3.0)
    await task
    assert [c.path for c in changes] == ["/later"]


async def test_trimming_expires_older_cursors_only(engine: Store) -> None:
    start = await engine.present()
    for i in range(6):
        await engine.put(TEAM, write(f"/t/{i}", b"{}"), None)
    changes = await engine.changes(start, 10)
    await engine.trim_changes(now_ms(), 3_600_000, 2)
    kept = await engine.changes(changes[3].position, 10)
    assert [c.path for c in kept] == ["/t/4", "/t/5"]
    with pytest.raises(CursorExpired):
        await engine.changes(changes[2].position, 10)
    with pytest.raises(CursorExpired):
        await engine.changes(start, 10)
    assert await engine.present() == changes[-1].position
    await asyncio.sleep(0.05)
    await engine.trim_changes(now_ms(), 1, 1000)  # by age: everything
    with pytest.raises(CursorExpired):
        await engine.changes(changes[3].position, 10)
    assert await engine.changes(changes[-1].position, 10) == []
    assert await engine.present() == changes[-1].position
    await engine.put(TEAM, write("/t/new", b"{}"), None)
    assert [c.path for c in await engine.changes(changes[-1].position, 10)] == ["/t/new"]


async def test_trimming_a_backlog_larger_than_one_step(engine: Store) -> None:
    """A trim works in steps of a bounded size (so no write waits behind a large one) and
    goes on until the feed is within its limits, by count and by age."""
    start = await engine.present()
    await asyncio.gather(
        *(engine.put(TEAM, write(f"/backlog/{i}", b"{}"), None) for i in range(2600))
    )
    changes: list[Change] = []
    while batch := await engine.changes(changes[-1].position if changes else start, 1000):
        changes += batch
    assert len(changes) == 2600
    await engine.trim_changes(now_ms(), 3_600_000, 100)
    assert len(await engine.changes(changes[-101].position, 1000)) == 100
    with pytest.raises(CursorExpired):
        await engine.changes(changes[-102].position, 10)
    await asyncio.sleep(0.05)
    await engine.trim_changes(now_ms(), 1, 1_000_000)  # by age: everything
    with pytest.raises(CursorExpired):
        await engine.changes(changes[-2].position, 10)
    assert await engine.present() == changes[-1].position


async def test_an_empty_feed_starts_at_the_origin(engine: Store) -> None:
    present = await engine.present()
    assert present >= ORIGIN
    assert await engine.changes(present, 10) == []

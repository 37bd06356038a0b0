"""The storage contract (pathkv/core/contract.py), unchanged on every store, in two namespaces."""

from __future__ import annotations

import asyncio

import pytest

from pathkv.core.contract import ConditionFailed, Record, Write
from pathkv.core.documents import digest
from pathkv.core.etags import MUST_BE_ABSENT, Expect
from pathkv.core.service import now_ms
from tests.contract.conftest import InNamespace

YEAR_MS = 365 * 24 * 3600 * 1000


def write(path: str, body: bytes = b'{"a":1}', ttl_ms: int = YEAR_MS) -> Write:
    now = now_ms()
    return Write(path, body, digest(body), now, now + ttl_ms)


async def eventually_hits(store: InNamespace, path: str, expected: int) -> None:
    """Hits are exact and visible within one second."""
    for _ in range(20):
        top = dict(await store.top_hits(100, now_ms()))
        if top.get(path) == expected:
            return
        await asyncio.sleep(0.05)
    assert dict(await store.top_hits(100, now_ms())).get(path) == expected


async def test_put_creates_then_replaces(store: InNamespace) -> None:
    record, created = await store.put(write("/a", b'{"v":1}'), None)
    assert created
    assert (record.version, record.body, record.hits) == (1, b'{"v":1}', 0)
    record, created = await store.put(write("/a", b'{"v":2}'), None)
    assert not created
    assert (record.version, record.body) == (2, b'{"v":2}')
    got = await store.get("/a", now_ms(), count_hit=False)
    assert got is not None
    assert (got.version, got.body, got.digest) == (2, b'{"v":2}', digest(b'{"v":2}'))


async def test_get_missing_is_none(store: InNamespace) -> None:
    assert await store.get("/missing", now_ms(), count_hit=True) is None


async def test_body_bytes_round_trip_exactly(store: InNamespace) -> None:
    body = '{"big":123456789012345678901234567890,"f":0.1,"u":"é😀\\u0000","n":null}'.encode()
    await store.put(write("/bytes", body), None)
    got = await store.get("/bytes", now_ms(), count_hit=False)
    assert got is not None and got.body == body


async def test_large_bodies_round_trip(store: InNamespace) -> None:
    import os

    for size in (255, 256, 4096, 1024 * 1024):
        body = b'{"r":"' + os.urandom(size // 2).hex().encode() + b'","s":"' + b"a" * size + b'"}'
        await store.put(write(f"/large/{size}", body), None)
        got = await store.get(f"/large/{size}", now_ms(), count_hit=False)
        assert got is not None and got.body == body and got.digest == digest(body)
    records = await store.records("/large/", 10, now_ms())
    assert {r.path: r.body for r in records if r.path.startswith("/large/")}[
        "/large/4096"
    ].startswith(b'{"r":"')


async def test_metadata_times(store: InNamespace) -> None:
    w = write("/times", ttl_ms=60_000)
    await store.put(w, None)
    got = await store.get("/times", now_ms(), count_hit=False)
    assert got is not None
    # An engine with a clock of its own (Redis) times the write by it: on one machine the
    # two clocks agree to within moments, and the lifetime is exactly the one asked for.
    assert abs(got.last_updated - w.now) < 1000
    assert abs(got.expires_at - w.expires_at) < 1000
    assert 59_000 <= got.expires_at - now_ms() <= 60_000


async def test_expired_document_is_invisible(store: InNamespace) -> None:
    await store.put(write("/exp/old", ttl_ms=150), None)
    await store.put(write("/exp/live"), None)
    assert await store.get("/exp/old", now_ms(), count_hit=True) is not None
    await asyncio.sleep(0.3)
    now = now_ms()
    assert await store.get("/exp/old", now, count_hit=True) is None
    assert await store.keys("/exp/", None, 10, now) == ["/exp/live"]
    assert [r.path for r in await store.records(None, 100, now) if r.path.startswith("/exp/")] == [
        "/exp/live"
    ]
    assert "/exp/old" not in dict(await store.top_hits(100, now))
    assert await store.delete("/exp/old", now, None) is False


async def test_write_after_expiry_creates_afresh(store: InNamespace) -> None:
    await store.put(write("/again", ttl_ms=150), None)
    await store.get("/again", now_ms(), count_hit=True)
    await asyncio.sleep(0.3)
    record, created = await store.put(write("/again"), MUST_BE_ABSENT)
    assert created and record.version == 1 and record.hits == 0


async def test_create_only(store: InNamespace) -> None:
    await store.put(write("/c", b'{"first":1}'), MUST_BE_ABSENT)
    with pytest.raises(ConditionFailed):
        await store.put(write("/c", b'{"second":1}'), MUST_BE_ABSENT)
    got = await store.get("/c", now_ms(), count_hit=False)
    assert got is not None and got.body == b'{"first":1}' and got.version == 1


async def test_if_match(store: InNamespace) -> None:
    record, _ = await store.put(write("/m"), None)
    with pytest.raises(ConditionFailed):
        await store.put(write("/m", b'{"x":1}'), Expect(True, ((record.version, "nope"),)))
    with pytest.raises(ConditionFailed):
        await store.put(write("/other"), Expect(True))
    assert await store.get("/other", now_ms(), count_hit=False) is None
    updated, _ = await store.put(write("/m", b'{"x":2}'), Expect(True, (record.tag,)))
    assert updated.version == 2
    with pytest.raises(ConditionFailed):
        await store.put(write("/m", b'{"x":3}'), Expect(True, (record.tag,)))
    updated, _ = await store.put(write("/m", b'{"x":4}'), Expect(True))
    assert updated.version == 3


async def test_concurrent_conditional_writes_have_one_winner(store: InNamespace) -> None:
    record, _ = await store.put(write("/race"), None)
    condition = Expect(True, (record.tag,))

    async def attempt(i: int) -> bool:
        try:
            await store.put(write("/race", b'{"writer":%d}' % i), condition)
        except ConditionFailed:
            return False
        return True

    results = await asyncio.gather(*(attempt(i) for i in range(32)))
    assert sum(results) == 1
    got = await store.get("/race", now_ms(), count_hit=False)
    assert got is not None and got.version == 2
    assert got.body == b'{"writer":%d}' % results.index(True)


async def test_concurrent_writes_to_one_path_get_distinct_versions(store: InNamespace) -> None:
    records = await asyncio.gather(
        *(store.put(write("/many", b'{"i":%d}' % i), None) for i in range(64))
    )
    assert sorted(r.version for r, _ in records) == list(range(1, 65))
    final = await store.get("/many", now_ms(), count_hit=False)
    assert final is not None and final.version == 64
    assert final.body in {r.body for r, _ in records}


async def test_delete(store: InNamespace) -> None:
    record, _ = await store.put(write("/d"), None)
    with pytest.raises(ConditionFailed):
        await store.delete("/d", now_ms(), Expect(True, ((99, "x"),)))
    assert await store.get("/d", now_ms(), count_hit=False) is not None
    assert await store.delete("/d", now_ms(), Expect(True, (record.tag,))) is True
    assert await store.get("/d", now_ms(), count_hit=False) is None
    assert await store.delete("/d", now_ms(), None) is False
    assert "/d" not in await store.keys("/", None, 100, now_ms())


async def test_hits_are_counted_exactly(store: InNamespace) -> None:
    await store.put(write("/h/one"), None)
    await store.put(write("/h/two"), None)
    await asyncio.gather(*(store.get("/h/one", now_ms(), count_hit=True) for _ in range(30)))
    for _ in range(5):
        await store.get("/h/two", now_ms(), count_hit=True)
    await store.get("/h/two", now_ms(), count_hit=False)
    await eventually_hits(store, "/h/one", 30)
    await eventually_hits(store, "/h/two", 5)
    top = await store.top_hits(2, now_ms())
    assert top[0] == ("/h/one", 30)
    got = await store.get("/h/one", now_ms(), count_hit=False)
    assert got is not None and got.hits == 30


async def test_hits_survive_replace_and_reset_on_delete(store: InNamespace) -> None:
    await store.put(write("/hr"), None)
    for _ in range(3):
        await store.get("/hr", now_ms(), count_hit=True)
    await eventually_hits(store, "/hr", 3)
    record, _ = await store.put(write("/hr", b'{"b":2}'), None)
    assert record.hits == 3
    await store.delete("/hr", now_ms(), None)
    assert "/hr" not in dict(await store.top_hits(100, now_ms()))
    record, _ = await store.put(write("/hr"), None)
    assert record.hits == 0


async def test_keys_order_prefix_and_pages(store: InNamespace) -> None:
    paths = ["/k/b", "/k/a", "/k/a/x", "/k/é", "/k/Z", "/k/~", "/kk", "/j"]
    for path in paths:
        await store.put(write(path), None)
    now = now_ms()
    expected = sorted(p for p in paths if p.startswith("/k/"))
    assert expected == ["/k/Z", "/k/a", "/k/a/x", "/k/b", "/k/~", "/k/é"]
    assert await store.keys("/k/", None, 100, now) == expected
    first = await store.keys("/k/", None, 2, now)
    second = await store.keys("/k/", first[-1], 2, now)
    third = await store.keys("/k/", second[-1], 10, now)
    assert first + second + third == expected
    assert await store.keys("/k/", expected[-1], 10, now) == []
    assert await store.keys("/nothing/", None, 10, now) == []
    assert await store.keys("/k/", "/k/a", 2, now, inclusive=True) == ["/k/a", "/k/a/x"]
    assert await store.keys("/k/", "/k/aa", 2, now, inclusive=True) == ["/k/b", "/k/~"]


async def test_records_pages_in_path_order(store: InNamespace) -> None:
    for i in range(7):
        await store.put(write(f"/r/{i}", b'{"i":%d}' % i), None)
    now = now_ms()
    seen: list[Record] = []
    after = None
    while batch := await store.records(after, 3, now):
        seen.extend(batch)
        after = batch[-1].path
    mine = [r for r in seen if r.path.startswith("/r/")]
    assert [r.path for r in mine] == [f"/r/{i}" for i in range(7)]
    assert mine[3].body == b'{"i":3}'


async def test_restore_is_idempotent_and_keeps_metadata(store: InNamespace) -> None:
    now = now_ms()
    body = b'{"restored":true}'
    record = Record("/restored", body, 7, digest(body), now - 5000, now + 60_000, 4)
    assert await store.restore(record, now) is True
    assert await store.restore(record, now) is False
    got = await store.get("/restored", now_ms(), count_hit=False)
    assert got is not None and abs(got.expires_at - record.expires_at) < 1000
    got.expires_at = record.expires_at
    assert got == record
    older = Record("/restored", b'{"old":1}', 3, digest(b'{"old":1}'), now, now + 60_000, 0)
    assert await store.restore(older, now) is False
    expired = Record("/gone", body, 1, digest(body), now - 10, now - 5, 0)
    assert await store.restore(expired, now) is False
    assert await store.get("/gone", now_ms(), count_hit=False) is None


async def test_root_counter_is_exact_under_concurrency(store: InNamespace) -> None:
    start = await store.incr_root()
    values = await asyncio.gather(*(store.incr_root() for _ in range(100)))
    assert sorted(values) == list(range(start + 1, start + 101))


async def test_sweep_removes_expired(store: InNamespace) -> None:
    for i in range(5):
        await store.put(write(f"/s/{i}", ttl_ms=100), None)
    await store.put(write("/s/live"), None)
    await asyncio.sleep(0.25)
    removed = 0
    while (n := await store.sweep(now_ms(), 2)) > 0:
        removed += n
    assert removed <= 5  # Redis may already have expired some by itself
    assert await store.keys("/s/", None, 10, now_ms()) == ["/s/live"]
    assert await store.sweep(now_ms(), 100) == 0


async def test_sweep_walks_a_large_index(store: InNamespace) -> None:
    await asyncio.gather(
        *(store.put(write(f"/big-sweep/{i:04d}", ttl_ms=100), None) for i in range(450))
    )
    await store.put(write("/big-sweep/live"), None)
    await asyncio.sleep(0.25)
    removed = 0
    while (n := await store.sweep(now_ms(), 1000)) > 0:
        removed += n
    assert removed == 450
    assert await store.keys("/big-sweep/", None, 1000, now_ms()) == ["/big-sweep/live"]


async def test_ping(store: InNamespace) -> None:
    await store.ping()

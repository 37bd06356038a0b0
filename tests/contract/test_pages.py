"""Paging over many documents, which on Redis with several buckets is a merge of every
bucket's page (each bucket asked for a share first, then again where it may hold more):
every page is the next slice of the one sorted order, with or without a delimiter, and
the top hits are the highest counts, whatever bucket holds them."""

from __future__ import annotations

import asyncio

from pathkv.core.contract import Store, Write
from pathkv.core.documents import digest
from pathkv.core.levels import list_level
from pathkv.core.namespaces import Namespace
from pathkv.core.service import now_ms

NS = Namespace("pages")


def write(path: str) -> Write:
    now = now_ms()
    return Write(path, b"{}", digest(b"{}"), now, now + 60_000)


async def test_pages_walk_the_whole_order(engine: Store) -> None:
    paths = [f"/p/{n:03d}" for n in range(150)] + [f"/p/{n:03d}/x" for n in range(0, 150, 10)]
    paths += [f"/p/f{n % 7}/d{n}" for n in range(60)]  # folders in every bucket
    await asyncio.gather(*(engine.put(NS, write(p), None) for p in paths))
    for limit in (1, 7, 64):
        walked: list[str] = []
        after: str | None = None
        while page := await engine.keys(NS, "/p/", after, limit, now_ms()):
            assert len(page) <= limit
            walked += page
            after = page[-1]
        assert walked == sorted(paths)
        records = []
        after = None
        while batch := await engine.records(NS, after, limit, now_ms()):
            records += [r.path for r in batch]
            after = batch[-1].path
        assert records == sorted(paths)
    folders = sorted({f"/p/f{n}/" for n in range(7)} | {f"/p/{n:03d}/" for n in range(0, 150, 10)})
    expected = sorted(
        [(p, False) for p in paths if p.count("/") == 2] + [(f, True) for f in folders]
    )
    for limit in (1, 5, 40):
        seen: list[tuple[str, bool]] = []
        cursor: str | None = None
        while entries := await list_level(engine, NS, "/p/", cursor, limit, "/", now_ms()):
            assert len(entries) <= limit
            seen += [(e.name, e.folder) for e in entries]
            cursor = entries[-1].cursor
        assert seen == expected


async def test_hits_of_more_paths_than_one_flush_stores_at_once(engine: Store) -> None:
    """A store that buffers hits stores them in chunks (SQLite: 256 paths a transaction);
    every hit of every path is there after a flush, and a GET's count includes it."""
    paths = [f"/many-hits/{n:04d}" for n in range(700)]
    await asyncio.gather(*(engine.put(NS, write(p), None) for p in paths))
    for round_ in range(2):
        await asyncio.gather(
            *(engine.get(NS, p, now_ms(), True) for n, p in enumerate(paths) if n % 2 or round_)
        )
    await engine.flush()
    for n in (0, 1, 255, 256, 257, 511, 512, 699):
        got = await engine.get(NS, paths[n], now_ms(), False)
        assert got is not None and got.hits == (2 if n % 2 else 1), (n, got)
    top = await engine.top_hits(NS, 350, now_ms())
    assert {path for path, hits in top} == set(paths[1::2]) and {h for _, h in top} == {2}


async def test_top_hits_over_many_documents(engine: Store) -> None:
    paths = [f"/h/{n:02d}" for n in range(40)]
    await asyncio.gather(*(engine.put(NS, write(p), None) for p in paths))
    for n, path in enumerate(paths):
        for _ in range(n % 9):
            await engine.get(NS, path, now_ms(), True)
    await engine.flush()
    top = await engine.top_hits(NS, 12, now_ms())
    counts = sorted((n % 9 for n in range(40)), reverse=True)[:12]
    assert [hits for _, hits in top] == counts
    assert all(int(path[3:]) % 9 == hits for path, hits in top)

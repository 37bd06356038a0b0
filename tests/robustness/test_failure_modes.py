"""The failure modes found under attack, each on real processes: clocks that disagree,
Redis evicting or out of memory, one bad write in a batch, bodies that flood memory,
damaged and foreign files."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from pathkv.config import Settings
from pathkv.core.contract import Store, StoreError, Write
from pathkv.core.documents import digest
from pathkv.core.namespaces import DEFAULT
from pathkv.core.service import now_ms
from pathkv.stores.registry import open_store
from tests.conftest import ServerRunner
from tests.servers import PathkvServer, RedisServer, redis_binaries

REDIS_KINDS = list(redis_binaries())


@pytest.fixture(params=REDIS_KINDS)
def own_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """A private server of each kind: these tests change its memory settings."""
    server = RedisServer(redis_binaries()[request.param], tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_store(own_redis: RedisServer) -> AsyncIterator[Store]:
    store = open_store(Settings(store=own_redis.url))
    await store.open()
    yield store
    await store.close()


def write(path: str, now: int, ttl_ms: int, body: bytes = b'{"a":1}') -> Write:
    return Write(path, body, digest(body), now, now + ttl_ms)


async def test_expiry_follows_redis_clock_whatever_pathkv_clock_says(redis_store: Store) -> None:
    real = now_ms()
    behind_2s, behind_1h, ahead_1h = real - 2000, real - 3_600_000, real + 3_600_000
    for i in range(20):  # ?ttl=1 from a clock 2 s behind
        await redis_store.put(DEFAULT, write(f"/skew/short/{i}", behind_2s, 1000), None)
    got = [await redis_store.get(DEFAULT, f"/skew/short/{i}", now_ms(), False) for i in range(20)]
    assert all(record is not None for record in got)
    await redis_store.put(DEFAULT, write("/skew/behind", behind_1h, 600_000), None)
    await redis_store.put(DEFAULT, write("/skew/ahead", ahead_1h, 600_000), None)
    for path in ("/skew/behind", "/skew/ahead"):
        record = await redis_store.get(DEFAULT, path, now_ms(), False)
        assert record is not None, path
        assert 598_000 <= record.expires_at - now_ms() <= 600_000  # exactly its TTL left
    await asyncio.sleep(1.2)
    assert await redis_store.get(DEFAULT, "/skew/short/0", now_ms(), False) is None


async def test_an_evicting_policy_refuses_writes_until_noeviction(
    own_redis: RedisServer, redis_store: Store
) -> None:
    assert (await redis_store.health()).writable
    own_redis.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    health = await redis_store.health()
    assert not health.writable and "allkeys-lru" in str(health.reason)
    with pytest.raises(StoreError, match="maxmemory-policy"):
        await redis_store.put(DEFAULT, write("/evict", now_ms(), 60_000), None)
    assert await redis_store.get(DEFAULT, "/evict", now_ms(), False) is None
    own_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    assert (await redis_store.health()).writable
    await redis_store.put(DEFAULT, write("/evict", now_ms(), 60_000), None)
    accepting = open_store(Settings(store=own_redis.url, redis_allow_eviction=True))
    await accepting.open()
    try:
        own_redis.command("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
        assert (await accepting.health()).writable
        await accepting.put(DEFAULT, write("/risky", now_ms(), 60_000), None)
    finally:
        await accepting.close()


def test_readiness_and_metrics_say_why_writes_are_refused(
    own_redis: RedisServer, tmp_path: Path, run_server: ServerRunner
) -> None:
    own_redis.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    server = run_server(PathkvServer(own_redis.url, log=tmp_path / "log"))
    server.wait_ready(steady=0.2)
    with httpx.Client(base_url=server.base, timeout=10) as client:
        refused = client.put("/doc", json={"a": 1})
        assert refused.status_code == 503 and "maxmemory-policy" in refused.json()["detail"]
        ready = client.get("/-/readyz")
        assert ready.status_code == 200
        assert ready.json()["writable"] is False and "allkeys-lru" in ready.json()["reason"]
        assert "pathkv_store_writable 0.0" in client.get("/-/metrics").text
        own_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        assert client.get("/-/readyz").json()["writable"] is True
        assert client.put("/doc", json={"a": 1}).status_code == 201
    log = (tmp_path / "log").read_text()
    assert "the store refuses writes" in log and "the store takes writes again" in log


async def test_maxmemory_is_not_bypassed_and_reads_go_on(
    own_redis: RedisServer, redis_store: Store
) -> None:
    body = b'{"pad":"' + os.urandom(400).hex().encode() + b'"}'
    await redis_store.put(DEFAULT, write("/oom/first", now_ms(), 600_000, body), None)
    used = int(own_redis.info("used_memory"))
    own_redis.command("CONFIG", "SET", "maxmemory", str(used + 512 * 1024))
    stored = refused = 0
    for start in range(0, 6000, 100):
        results = await asyncio.gather(
            *(
                redis_store.put(DEFAULT, write(f"/oom/{i}", now_ms(), 600_000, body), None)
                for i in range(start, start + 100)
            ),
            return_exceptions=True,
        )
        stored += sum(not isinstance(r, BaseException) for r in results)
        refused += sum(isinstance(r, StoreError) for r in results)
        if refused:
            break
    assert refused > 0, "Redis never refused a write"
    assert int(own_redis.info("used_memory")) < used + 2 * 1024 * 1024
    # reads still serve the document; its hit is counted when Redis allows it
    record = await redis_store.get(DEFAULT, "/oom/first", now_ms(), True)
    assert record is not None and record.body == body
    health = await redis_store.health()
    assert not health.writable and "out of memory" in str(health.reason)


async def test_one_bad_write_fails_alone_on_every_store(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    for url in (f"sqlite:///{tmp_path / 'poison.db'}", own_redis.url):
        store = open_store(Settings(store=url))
        await store.open()
        try:
            now = now_ms()
            writes = [write(f"/batch/{i}", now, 60_000) for i in range(50)]
            writes[25] = Write("/batch/poison", b"{}", digest(b"{}"), now, 2**70)
            results = await asyncio.gather(
                *(store.put(DEFAULT, w, None) for w in writes), return_exceptions=True
            )
            assert isinstance(results[25], StoreError), (url, results[25])
            assert all(
                not isinstance(r, BaseException) for i, r in enumerate(results) if i != 25
            ), url
            assert await store.get(DEFAULT, "/batch/poison", now_ms(), False) is None
            # the writer (and the store) carry on
            await store.put(DEFAULT, write("/batch/after", now_ms(), 60_000), None)
            assert await store.get(DEFAULT, "/batch/after", now_ms(), False) is not None
        finally:
            await store.close()


def test_a_flood_of_large_bodies_is_bounded(tmp_path: Path, run_server: ServerRunner) -> None:
    server = run_server(
        PathkvServer(
            f"sqlite:///{tmp_path / 'flood.db'}",
            workers=1,
            log=tmp_path / "log",
            env={"PATHKV_BODY_BUDGET_BYTES": str(32 * 1024 * 1024)},
        )
    )
    server.wait_ready(steady=0.2)
    body = b'{"pad":"' + b"x" * (1024 * 1024 - 20) + b'"}'
    statuses: list[int] = []
    small: list[float] = []

    def big(i: int) -> None:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            statuses.append(
                client.put(
                    f"/flood/{i}", content=body, headers={"content-type": "application/json"}
                ).status_code
            )

    threads = [threading.Thread(target=big, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    with httpx.Client(base_url=server.base, timeout=30) as client:
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            assert client.get("/-/healthz").status_code == 200
            small.append(time.monotonic() - started)
            time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(statuses) == 200 and set(statuses) <= {201, 503}
    assert statuses.count(201) > 0
    assert server.proc is not None
    rss = max(_rss_mib(pid) for pid in _worker_pids(server.proc.pid))
    assert rss < 400, f"a worker holds {rss:.0f} MiB"


def _worker_pids(pid: int) -> list[int]:
    from tests.servers import _children

    return list(_children(pid))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_a_body_another_tool_stored_is_refused_not_served(tmp_path: Path) -> None:
    path = tmp_path / "foreign-row.db"
    store = open_store(Settings(store=f"sqlite:///{path}"))
    await store.open()
    await store.put(DEFAULT, write("/fine", now_ms(), 60_000), None)
    await store.put(DEFAULT, write("/tampered", now_ms(), 60_000), None)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE documents SET body = 'plain text' WHERE path = '/tampered'")
    conn.commit()
    conn.close()
    try:
        assert await store.get(DEFAULT, "/fine", now_ms(), False) is not None
        with pytest.raises(StoreError, match="pathkv did not write"):
            await store.get(DEFAULT, "/tampered", now_ms(), False)
    finally:
        await store.close()


async def test_a_damaged_file_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    store = open_store(Settings(store=f"sqlite:///{path}"))
    await store.open()
    await asyncio.gather(
        *(
            store.put(
                DEFAULT,
                write(f"/d/{i:05d}", now_ms(), 60_000, b'{"p":"' + b"y" * 500 + b'"}'),
                None,
            )
            for i in range(2000)
        )
    )
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 7 * page):
        data[offset + 100 : offset + 400] = os.urandom(300)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        await open_store(Settings(store=f"sqlite:///{path}")).open()


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem of its own (tmpfs; the test suite runs as root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(
    small_filesystem: Path, tmp_path: Path, run_server: ServerRunner
) -> None:
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * 200 * 1024)
    server = run_server(
        PathkvServer(f"sqlite:///{small_filesystem / 'full.db'}", log=tmp_path / "log")
    )
    server.wait_ready(steady=0.2)
    body = {"pad": "z" * 4000}
    acknowledged = []
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for i in range(1000):
            answer = client.put(f"/full/{i}", json=body)
            if answer.status_code != 201:
                break
            acknowledged.append(i)
        assert answer.status_code == 503, answer.text
        assert acknowledged, "nothing could be written at all"
        ready = client.get("/-/readyz")
        assert ready.status_code == 200 and ready.json()["writable"] is False
        assert "full" in ready.json()["reason"]
        assert "pathkv_store_writable 0.0" in client.get("/-/metrics").text
        for i in acknowledged[:: max(1, len(acknowledged) // 10)]:
            assert client.get(f"/full/{i}").json() == body  # reads go on
        filler.unlink()  # room again: no restart needed
        deadline = time.monotonic() + 10
        while client.put("/full/after", json=body).status_code != 201:
            assert time.monotonic() < deadline, "writes did not recover"
            time.sleep(0.2)
        assert client.get("/-/readyz").json()["writable"] is True
        for i in acknowledged:
            assert client.get(f"/full/{i}").status_code == 200, i

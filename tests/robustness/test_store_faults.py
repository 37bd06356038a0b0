"""Faults in the store: the service answers 503/504 problem+json, leaks nothing, recovers."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx

from pathkv.config import Settings
from pathkv.stores.registry import open_store
from tests.conftest import ServerRunner
from tests.servers import PathkvServer, RedisServer


def assert_problem(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == "application/problem+json"


def pathkv_connections(redis: RedisServer) -> int:
    listing = redis.command("CLIENT", "LIST").decode("latin-1")
    return listing.count("name=pathkv")


def test_redis_down_then_back(
    fresh_redis: RedisServer, tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(
            fresh_redis.url, workers=2, log=tmp_path / "log", env={"PATHKV_REDIS_TIMEOUT": "0.5"}
        )
    )
    with httpx.Client(base_url=server.base, timeout=10) as client:
        assert client.put("/kept", json={"a": 1}).status_code == 201
        for cycle in range(3):
            fresh_redis.stop()
            started = time.monotonic()
            assert_problem(client.get("/kept"), 503, 504)
            assert_problem(client.put("/new", json={"a": 1}), 503, 504)
            assert_problem(client.get("/"), 503, 504)
            assert_problem(client.get("/-/keys"), 503, 504)
            assert_problem(client.get("/-/readyz"), 503)
            assert client.get("/-/healthz").status_code == 200
            assert time.monotonic() - started < 10
            # Once a few calls have failed in a worker, its client's circuit breaker
            # answers at once.
            for _ in range(12):
                client.get("/kept")
            for _ in range(4):
                quick = time.monotonic()
                assert_problem(client.get("/kept"), 503)
                assert time.monotonic() - quick < 0.2, "failures must be fast"
            fresh_redis.start()
            server.wait_ready()
            assert client.get("/kept").json() == {"a": 1}
            assert client.put(f"/after/{cycle}", json={"c": cycle}).status_code == 201
        # One multiplexed connection per worker (plus the readiness ping's): no leak
        # across three outages.
        assert pathkv_connections(fresh_redis) <= 4


def test_slow_redis_answers_504_then_recovers(
    fresh_redis: RedisServer, tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(fresh_redis.url, log=tmp_path / "log", env={"PATHKV_REDIS_TIMEOUT": "0.3"})
    )
    with httpx.Client(base_url=server.base, timeout=10) as client:
        assert client.put("/slow", json={"a": 1}).status_code == 201
        # Redis stops answering pathkv's commands for 2 s.
        fresh_redis.command("CLIENT", "PAUSE", "2000", "ALL")
        started = time.monotonic()
        assert_problem(client.get("/slow"), 504)
        assert time.monotonic() - started < 1.5
        time.sleep(2.0)
        assert client.get("/slow").json() == {"a": 1}
        assert client.put("/slow", json={"a": 2}).status_code == 200


def test_sqlite_locked_by_another_process(tmp_path: Path, run_server: ServerRunner) -> None:
    database = tmp_path / "locked.db"
    server = run_server(
        PathkvServer(
            f"sqlite:///{database}", log=tmp_path / "log", env={"PATHKV_SQLITE_BUSY_TIMEOUT": "0.5"}
        )
    )
    with httpx.Client(base_url=server.base, timeout=10) as client:
        assert client.put("/doc", json={"v": 1}).status_code == 201
        intruder = sqlite3.connect(database, isolation_level=None)
        intruder.execute("BEGIN EXCLUSIVE")
        try:
            assert_problem(client.put("/doc", json={"v": 2}), 503)
            assert_problem(client.get("/"), 503)
            assert client.get("/doc").json() == {"v": 1}  # WAL readers are not blocked
        finally:
            intruder.execute("ROLLBACK")
            intruder.close()
        assert client.put("/doc", json={"v": 3}).json()["version"] == 2
        assert client.get("/doc").json() == {"v": 3}


def test_redis_dies_mid_request_batch(
    fresh_redis: RedisServer, tmp_path: Path, run_server: ServerRunner
) -> None:
    """Requests in flight when Redis dies all get an answer; nothing hangs."""
    server = run_server(
        PathkvServer(fresh_redis.url, log=tmp_path / "log", env={"PATHKV_REDIS_TIMEOUT": "0.5"})
    )
    statuses: list[int] = []

    def hammer() -> None:
        with httpx.Client(base_url=server.base, timeout=10) as client:
            for i in range(40):
                statuses.append(client.put(f"/mid/{i}", json={"i": i}).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    fresh_redis.stop()
    for thread in threads:
        thread.join(60)
    assert len(statuses) == 320
    assert set(statuses) <= {200, 201, 503, 504}
    fresh_redis.start()
    server.wait_ready()
    assert httpx.put(server.base + "/mid/after", json={"ok": 1}).status_code in (200, 201)


async def test_pool_size_and_hostile_paths_stay_in_the_key_space(
    fresh_redis: RedisServer,
) -> None:
    from pathkv.core.contract import Write
    from pathkv.core.documents import digest
    from pathkv.core.namespaces import DEFAULT, Namespace
    from pathkv.core.paths import normalize
    from pathkv.core.service import now_ms

    prefix = f"p{uuid.uuid4().hex[:6]}:"
    store = open_store(Settings(store=fresh_redis.url, redis_prefix=prefix, redis_pool_size=3))
    await store.open()
    try:
        fresh_redis.command("SET", "victim", "untouched")
        hostile = [
            b"/pathkv:count",
            b"/..%2f..%2fvictim",
            b"/*",
            b"/{victim}",
            b"/%20victim",
            b"/a/../../victim",
        ]
        written = []
        for raw in hostile:
            try:
                path = normalize(raw)
            except Exception:
                continue
            now = now_ms()
            for ns in (DEFAULT, Namespace("tenant-a")):
                await store.put(ns, Write(path, b"{}", digest(b"{}"), now, now + 60_000), None)
            written.append(path)
        assert written
        for _ in range(30):
            await store.incr_root(DEFAULT)
        keys = fresh_redis.command("KEYS", "*").decode("latin-1")
        assert "victim" in keys and fresh_redis.command("GET", "victim").endswith(b"untouched\r\n")
        listed = [line for line in keys.split("\r\n") if line and not line.startswith(("*", "$"))]
        outside = [k for k in listed if k != "victim" and not k.startswith(prefix)]
        assert not outside, outside
        tenant = prefix + "n:tenant-a:"
        assert all(
            k.startswith(
                (
                    prefix + "d:/",
                    prefix + "keys",
                    prefix + "hits",
                    prefix + "count",
                    prefix + "namespaces",
                    prefix + "sizes",
                    prefix + "usage",
                    prefix + "expiry",
                    prefix + "changes",
                    prefix + "layout",
                    tenant + "d:/",
                    tenant + "keys",
                    tenant + "hits",
                    tenant + "sizes",
                    tenant + "usage",
                    tenant + "expiry",
                )
            )
            for k in listed
            if k != "victim"
        )
        assert pathkv_connections(fresh_redis) >= 3
    finally:
        await store.close()


def test_unreachable_redis_at_start_is_not_ready_then_recovers(
    tmp_path: Path, run_server: ServerRunner
) -> None:
    from tests.servers import free_port, redis_binaries

    port = free_port()
    server = run_server(
        PathkvServer(
            f"redis://127.0.0.1:{port}/0", log=tmp_path / "log", env={"PATHKV_REDIS_TIMEOUT": "0.5"}
        )
    )
    redis = RedisServer(next(iter(redis_binaries().values())), tmp_path / "r", port=port)
    try:
        assert_problem(httpx.get(server.base + "/-/readyz", timeout=10), 503)
        assert_problem(httpx.get(server.base + "/x", timeout=10), 503, 504)
        redis.start()
        server.wait_ready()
        assert httpx.put(server.base + "/x", json={"a": 1}, timeout=10).status_code == 201
    finally:
        redis.stop()

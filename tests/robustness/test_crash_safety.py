"""Every write that got a 2xx survives kill -9: of the server (SQLite) and of Redis (AOF),
and so does its change in the feed."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx
import orjson

from pathkv.core.contract import ORIGIN
from pathkv.core.feed import encode_position
from tests.robustness.storm import Storm
from tests.servers import PathkvServer, RedisServer


def assert_all_present(base: str, acknowledged: dict[str, bytes]) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for path, body in acknowledged.items():
            response = client.get(path, params={"meta": "1"})
            assert response.status_code == 200, (path, response.text)
            stored = client.get(path).content
            assert stored == body, path
    assert_in_feed(base, acknowledged)


def assert_in_feed(base: str, acknowledged: dict[str, bytes]) -> None:
    """Every acknowledged write is a put event of the feed, read from its start."""
    puts: dict[str, set[bytes]] = {}
    cursor = encode_position(ORIGIN)
    with httpx.Client(base_url=base, timeout=10) as client:
        while True:
            page = client.get("/-/changes", params={"since": cursor, "limit": 1000}).json()
            for item in page["items"]:
                if item["event"] == "put":
                    puts.setdefault(item["path"], set()).add(orjson.dumps(item["data"]))
            if not page["items"]:
                break
            cursor = page["next"]
    for path, body in acknowledged.items():
        assert orjson.dumps(orjson.loads(body)) in puts.get(path, set()), path


def test_sqlite_survives_kill_9_mid_storm(tmp_path: Path) -> None:
    database = tmp_path / "crash.db"
    server = PathkvServer(f"sqlite:///{database}", workers=2, log=tmp_path / "log")
    server.start()
    storm = Storm(server.base, clients=16)
    storm.start()
    time.sleep(2.0)
    server.kill()
    storm.stop()
    assert len(storm.acknowledged) > 100, storm.failures

    check = sqlite3.connect(database)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()

    server.start()
    try:
        assert_all_present(server.base, storm.acknowledged)
    finally:
        server.stop()
    check = sqlite3.connect(database)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()


def test_redis_aof_survives_kill_9_of_redis(fresh_redis: RedisServer, tmp_path: Path) -> None:
    server = PathkvServer(
        fresh_redis.url, workers=2, log=tmp_path / "log", env={"PATHKV_REDIS_TIMEOUT": "0.5"}
    )
    server.start()
    try:
        storm = Storm(server.base, clients=16)
        storm.start()
        time.sleep(1.5)
        fresh_redis.stop(signal.SIGKILL)
        time.sleep(0.5)
        storm.stop()
        assert len(storm.acknowledged) > 100, storm.failures
        # While Redis is down: fast 503s, readiness 503.
        started = time.monotonic()
        down = httpx.get(server.base + "/storm/0/1", timeout=10)
        assert down.status_code in (503, 504), down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert time.monotonic() - started < 3
        assert httpx.get(server.base + "/-/readyz", timeout=10).status_code == 503

        fresh_redis.start()  # same port, same directory: the AOF is replayed
        server.wait_ready()
        assert_all_present(server.base, storm.acknowledged)
    finally:
        server.stop()

"""64 clients at once on a real server (2 workers), on both stores."""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import PathkvServer, RedisServer


@pytest.fixture(params=["sqlite", "redis"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> Iterator[PathkvServer]:
    if request.param == "sqlite":
        srv = PathkvServer(f"sqlite:///{tmp_path / 'c.db'}", workers=2, log=tmp_path / "log")
    else:
        srv = PathkvServer(
            next(iter(redis_servers.values())).url,
            workers=2,
            log=tmp_path / "log",
            env={"PATHKV_REDIS_PREFIX": f"c{uuid.uuid4().hex[:6]}:"},
        )
    srv.start()
    yield srv
    srv.stop()


def run(clients: int, task: object) -> list[object]:
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(task, range(clients)))  # type: ignore[arg-type]


def test_64_writers_on_one_path(server: PathkvServer) -> None:
    httpx.put(server.base + "/one", json={"writer": -1, "pad": ""})

    def write(i: int) -> tuple[int, bytes]:
        body = json.dumps({"writer": i, "pad": "p" * (i * 50)}).encode()
        with httpx.Client(base_url=server.base, timeout=30) as client:
            response = client.put(
                "/one", content=body, headers={"content-type": "application/json"}
            )
        assert response.status_code == 200, response.text
        return response.json()["version"], body

    results = run(64, write)
    versions = sorted(v for v, _ in results)  # type: ignore[misc]
    assert versions == list(range(2, 66))
    final = httpx.get(server.base + "/one")
    by_version = dict(results)  # type: ignore[arg-type]
    assert json.loads(final.content) == json.loads(by_version[65])
    assert final.headers["etag"].startswith('"65-')


def test_root_counter_and_hits_are_exact(server: PathkvServer) -> None:
    httpx.put(server.base + "/popular", json={"a": 1})
    start = httpx.get(server.base + "/").json()["count"]

    def hammer(_: int) -> list[int]:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            counts = []
            for _ in range(10):
                counts.append(client.get("/").json()["count"])
                assert client.get("/popular").status_code == 200
            return counts

    counts = [n for chunk in run(64, hammer) for n in chunk]  # type: ignore[attr-defined]
    assert sorted(counts) == list(range(start + 1, start + 641))
    deadline = time.monotonic() + 1.5
    while True:
        hits = httpx.get(server.base + "/popular", params={"meta": "1"}).json()["hits"]
        top = httpx.get(server.base + "/-/hits").json()["items"]
        if hits == 640 and top[0] == {"path": "/popular", "hits": 640}:
            break
        assert time.monotonic() < deadline, (hits, top)
        time.sleep(0.1)


def test_conditional_writers_have_one_winner(server: PathkvServer) -> None:
    etag = httpx.put(server.base + "/cas", json={"v": 0}).headers["etag"]

    def attempt(i: int) -> int:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            return client.put("/cas", json={"v": i}, headers={"if-match": etag}).status_code

    statuses = sorted(run(32, attempt))  # type: ignore[type-var]
    assert statuses == [200] + [412] * 31

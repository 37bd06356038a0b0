"""One rule for hit counts, on every store, with two workers: ``?meta=1`` and ``/-/hits``
read the same stored counts; a client sees its own hits at once through the worker that
counted them, and every worker's within the flush interval."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerRunner, store_kinds
from tests.servers import PathkvServer, RedisServer

KINDS = store_kinds()[:2]


def start(
    kind: str, tmp_path: Path, redis_servers: dict[str, RedisServer], run_server: ServerRunner
) -> PathkvServer:
    if kind == "sqlite":
        url, env = f"sqlite:///{tmp_path / 'hits.db'}", {}
    else:
        url = redis_servers[kind.split(":", 1)[1]].url
        env = {"PATHKV_REDIS_PREFIX": f"h{uuid.uuid4().hex[:8]}:"}
    return run_server(PathkvServer(url, env={"PATHKV_AUTH": "off", **env}, workers=2))


def views(client: httpx.Client, path: str) -> tuple[int, int]:
    """(hits in ?meta=1, hits in /-/hits), read so that they must agree: a flush that lands
    between the two reads shows as two different ``?meta=1`` readings around them."""
    for _ in range(50):
        before = client.get(path, params={"meta": "1"}).json()["hits"]
        ranked = {item["path"]: item["hits"] for item in client.get("/-/hits").json()["items"]}
        after = client.get(path, params={"meta": "1"}).json()["hits"]
        if before == after:
            return after, ranked.get(path, 0)
    raise AssertionError("the counts never held still")


@pytest.mark.parametrize("kind", KINDS)
def test_meta_and_ranking_agree_across_workers(
    kind: str, tmp_path: Path, redis_servers: dict[str, RedisServer], run_server: ServerRunner
) -> None:
    server = start(kind, tmp_path, redis_servers, run_server)
    with httpx.Client(base_url=server.base) as client:
        assert client.put("/shared", json={"a": 1}).status_code == 201
        assert client.put("/own", json={"b": 2}).status_code == 201

    def hammer(_: int) -> None:
        with httpx.Client(base_url=server.base) as c:  # a connection of its own: any worker
            for _ in range(5):
                assert c.get("/shared").status_code == 200

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(hammer, range(8)))

    with httpx.Client(base_url=server.base) as client:
        # Its own hits, at once, through the worker that counted them.
        for _ in range(3):
            client.get("/own")
        assert views(client, "/own") == (3, 3)
        meta, ranked = views(client, "/shared")
        assert meta == ranked <= 40
        deadline = time.monotonic() + 5
        while views(client, "/shared") != (40, 40):
            assert time.monotonic() < deadline, views(client, "/shared")
            time.sleep(0.1)

"""Redis Cluster, for real: three primaries and three replicas on loopback (Redis 7 and
Valkey 8 for the contract suite, in tests/contract), pathkv serving on it, and a primary
killed with kill -9 in the middle of writes: the cluster promotes its replica and pathkv
goes on without a restart. Every key pathkv writes carries one hash tag, so one slot, on
one primary at a time (docs: the README's Redis Cluster section)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerRunner
from tests.robustness.failover import kill_under_writes
from tests.robustness.test_sentinel import binary
from tests.servers import PathkvServer, RedisCluster, RedisServer


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    found = RedisCluster(binary(), tmp_path / "cluster", node_timeout_ms=1000)
    try:
        found.start()
        yield found
    finally:
        for node in found.nodes:
            node.stop(signal.SIGKILL)


def owner(cluster: RedisCluster, tag: str) -> tuple[RedisServer, RedisServer]:
    """The primary serving the slot of ``{tag}``, and its replica."""
    reply = cluster.nodes[0].command("CLUSTER", "KEYSLOT", "{" + tag + "}")
    slot = int(reply.strip(b":\r\n"))
    index = min(slot // (16384 // cluster.primaries), cluster.primaries - 1)
    replica = cluster.nodes[cluster.primaries + index]
    return cluster.nodes[index], replica


def test_pathkv_serves_on_a_cluster(
    cluster: RedisCluster, tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(cluster.url, env={"PATHKV_AUTH": "off"}, workers=2, log=tmp_path / "log")
    )
    server.wait_ready()
    with httpx.Client(base_url=server.base, timeout=5) as client:
        with client.stream("GET", "/-/watch", params={"prefix": "/c/"}) as feed:
            assert client.put("/c/a", json={"a": 1}).status_code == 201
            assert client.put("/c/b", json={"b": 2}).status_code == 201
            lines = feed.iter_lines()
            events = []
            for line in lines:
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                if len(events) == 2:
                    break
        assert [e["path"] for e in events] == ["/c/a", "/c/b"]
        assert client.get("/c/a").json() == {"a": 1}
        assert client.get("/-/keys", params={"prefix": "/c/"}).json()["items"] == [
            {"path": "/c/a"},
            {"path": "/c/b"},
        ]
        assert client.get("/-/hits").json()["items"] == [{"path": "/c/a", "hits": 1}]
        assert client.get("/").json() == {"count": 1}
        assert client.delete("/c/b").status_code == 204
    primary, _ = owner(cluster, "pathkv")
    others = [n for n in cluster.nodes[: cluster.primaries] if n is not primary]
    assert b"{pathkv}:" in primary.command("KEYS", "*")
    for node in others:
        assert node.command("KEYS", "*") == b"*0\r\n"  # one slot: nothing anywhere else


@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_a_primary_killed_mid_write_is_replaced_without_a_restart(
    cluster: RedisCluster, tmp_path: Path, run_server: ServerRunner, wait_replicas: int
) -> None:
    """The cluster promotes the replica of the killed primary (cluster-node-timeout 1 s
    here); pathkv answers 503 meanwhile and then writes to the new primary. Without WAIT an
    acknowledged write not yet copied is lost with the old primary; with
    PATHKV_REDIS_WAIT_REPLICAS=1 none is (writes wait, 503, until the new primary has a
    replica again: the old one, restarted)."""
    env = {"PATHKV_AUTH": "off", "PATHKV_REDIS_TIMEOUT": "0.5"}
    if wait_replicas:
        env |= {"PATHKV_REDIS_WAIT_REPLICAS": "1", "PATHKV_REDIS_WAIT_TIMEOUT": "0.5"}
    server = run_server(PathkvServer(cluster.url, env=env, workers=2, log=tmp_path / "log"))
    server.wait_ready()
    primary, replica = owner(cluster, "pathkv")
    outcome = kill_under_writes(
        server.base,
        lambda: primary.stop(signal.SIGKILL),
        lambda: replica.info("role") == "master",
        primary.start if wait_replicas else None,  # it rejoins as the new primary's replica
    )
    print(outcome.report(f"cluster failover, PATHKV_REDIS_WAIT_REPLICAS={wait_replicas}"))
    if wait_replicas:
        assert outcome.lost == []
    assert replica.info("role") == "master"
    server.wait_ready(timeout=20)  # readiness follows within a health check or two


def test_moving_from_one_redis_to_a_cluster(
    cluster: RedisCluster,
    redis_servers: dict[str, RedisServer],
    tmp_path: Path,
    run_server: ServerRunner,
) -> None:
    """`pathkv export | pathkv import` from a single Redis to a cluster keeps documents,
    versions and hits (the keys' names change: they gain the hash tag)."""
    single = next(iter(redis_servers.values()))
    env = {"PATHKV_AUTH": "off", "PATHKV_REDIS_PREFIX": f"m{uuid.uuid4().hex[:6]}:"}
    before = run_server(PathkvServer(single.url, env=env, log=tmp_path / "before.log"))
    with httpx.Client(base_url=before.base, timeout=5) as client:
        for n in range(40):
            assert client.put(f"/m/{n}", json={"n": n}).status_code == 201
        client.put("/m/0", json={"n": 0, "again": True})
        for _ in range(3):
            client.get("/m/7")
    before.stop()
    moved = subprocess.run(
        f"{sys.executable} -m pathkv export --store {single.url}"
        f" | {sys.executable} -m pathkv import --store '{cluster.url}'",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert moved.returncode == 0, moved.stderr
    assert '"restored": 40' in moved.stderr
    after = run_server(PathkvServer(cluster.url, env=env, log=tmp_path / "after.log"))
    with httpx.Client(base_url=after.base, timeout=5) as client:
        assert (
            len(client.get("/-/keys", params={"prefix": "/m/", "limit": 100}).json()["items"]) == 40
        )
        assert client.get("/m/0?meta=1").json()["version"] == 2
        assert client.get("/-/hits", params={"limit": 1}).json()["items"] == [
            {"path": "/m/7", "hits": 3}
        ]

"""Redis Cluster, for real: three primaries and three replicas on loopback (Redis 7 and
Valkey 8 for the contract suite, in tests/contract), pathkv serving on it, and a primary
killed with kill -9 in the middle of writes: the cluster promotes its replica and pathkv
goes on without a restart. The keyspace is in 16 buckets, each under a hash tag of its own
whose slot is in a different sixteenth of the 16384, so spread over every primary (docs:
the README's Redis Cluster section)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pathkv.core.cursors import encode_cursor
from pathkv.core.namespaces import DEFAULT
from pathkv.stores.redis.layout import CLUSTER_BUCKETS, Layout, key_slot
from tests.conftest import ServerRunner
from tests.robustness.failover import Writes, kill_under_writes
from tests.robustness.test_sentinel import binary
from tests.servers import (
    PathkvServer,
    RedisCluster,
    RedisServer,
    free_cluster_port,
    redis_binaries,
)


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RedisCluster]:
    """A 3+3 cluster of Redis, or of the server a test names (indirect parametrization)."""
    name = getattr(request, "param", "redis")
    servers = redis_binaries()
    server = servers.get(name) if name != "redis" else binary()
    assert server is not None, f"no {name} server binary: install the test extras"
    found = RedisCluster(server, tmp_path / "cluster", node_timeout_ms=1000)
    try:
        found.start()
        yield found
    finally:
        for node in found.nodes:
            node.stop(signal.SIGKILL)


# The keys of pathkv's first bucket (the default prefix), and of the keyspace's own.
FIRST_BUCKET = Layout("pathkv:", CLUSTER_BUCKETS, cluster=True).roots[0]
HOME = "{pathkv}:"


class Reads:
    """GETs of the documents under /many/ and listing pages of them, from a thread: how
    many were answered, and which were not (path or page, status)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answered = 0
        self.refused: list[tuple[str, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stopping.is_set():
                n = (n + 37) % 3000
                for url, params in (
                    (f"/many/{n}", {}),
                    ("/-/keys", {"prefix": "/many/", "after": encode_cursor(f"/many/{n}")}),
                ):
                    try:
                        status = client.get(url, params=params).status_code
                    except httpx.HTTPError:
                        status = 0
                    if status == 200:
                        self.answered += 1
                    else:
                        self.refused.append((url, status))


def listed(client: httpx.Client, prefix: str) -> list[str]:
    """Every path below prefix, page by page."""
    paths: list[str] = []
    params = {"prefix": prefix, "limit": "1000"}
    while True:
        page = client.get("/-/keys", params=params).json()
        paths += [item["path"] for item in page["items"]]
        if not page.get("next"):
            return paths
        params["after"] = page["next"]


def owner(cluster: RedisCluster, key: str) -> tuple[RedisServer, RedisServer]:
    """The primary serving the slot of key when the cluster was made, and its replica."""
    slot = key_slot(key)
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
        for n in range(48):
            assert client.put(f"/spread/{n}", json={"n": n}).status_code == 201
        assert client.get("/-/keys", params={"prefix": "/spread/", "limit": 20}).json()[
            "items"
        ] == [{"path": p} for p in sorted(f"/spread/{n}" for n in range(48))[:20]]
    # the documents are on every primary; the layout is recorded in the keyspace's slot
    for node in cluster.nodes[: cluster.primaries]:
        assert b":d:/spread/" in node.command("KEYS", "pathkv:{*}:d:*")
    home, _ = owner(cluster, HOME)
    assert home.command("GET", HOME + "layout") == b"$10\r\nbuckets=16\r\n"


@pytest.mark.parametrize(
    ("cluster", "wait_replicas"),
    [("redis", 0), ("redis", 1), ("valkey", 0), ("valkey", 1)],
    indirect=["cluster"],
)
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
    primary, replica = owner(cluster, FIRST_BUCKET)
    layout = Layout("pathkv:", CLUSTER_BUCKETS, cluster=True)

    def on_killed(n: int) -> bool:
        return owner(cluster, layout.roots[layout.bucket(DEFAULT, f"/w/{n}")])[0] is primary

    outcome = kill_under_writes(
        server.base,
        lambda: primary.stop(signal.SIGKILL),
        lambda: replica.info("role") == "master",
        primary.start if wait_replicas else None,  # it rejoins as the new primary's replica
        on_killed,
    )
    print(outcome.report(f"{cluster.binary.name} cluster failover, WAIT_REPLICAS={wait_replicas}"))
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
    versions and hits (the keys' names change: they gain the buckets' hash tags)."""
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


@pytest.mark.parametrize("cluster", ["redis", "valkey"], indirect=True)
def test_resharding_while_serving(
    cluster: RedisCluster, tmp_path: Path, run_server: ServerRunner
) -> None:
    """A fourth primary joins and the slot of pathkv's first bucket moves to it (CLUSTER
    SETSLOT IMPORTING / MIGRATING, MIGRATE of its keys 5 at a time, SETSLOT NODE) under a
    stream of writes, and of reads and listing pages of the moving documents: the client
    follows the redirections (ASK, then MOVED) and pathkv asks again while a script's keys
    are split between the two nodes (TRYAGAIN), so no request fails; no acknowledged write
    is lost, no listing walk forgets a document that was only on the other node, and the
    documents are read from the new primary."""
    server = run_server(
        PathkvServer(cluster.url, env={"PATHKV_AUTH": "off"}, workers=2, log=tmp_path / "log")
    )
    server.wait_ready()
    lines = tmp_path / "many.jsonl"
    expires = (int(time.time()) + 3600) * 1000
    lines.write_text(
        "".join(
            f'{{"path":"/many/{i}","data":{{"i":{i}}},"version":1,"last_updated_ms":1,'
            f'"expires_at_ms":{expires},"hits":0}}\n'
            for i in range(3000)
        )
    )
    subprocess.run(
        [sys.executable, "-m", "pathkv", "import", "--store", cluster.url, "-i", str(lines)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    source, _ = owner(cluster, FIRST_BUCKET)
    slot = key_slot(FIRST_BUCKET)
    tag = FIRST_BUCKET[FIRST_BUCKET.index("{") : FIRST_BUCKET.index("}") + 1]
    target = RedisServer(
        cluster.binary,
        tmp_path / "cluster" / "node-new",
        port=free_cluster_port(),
        extra=(
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(tmp_path / "cluster" / "node-new" / "nodes.conf"),
            "--cluster-node-timeout",
            "1000",
        ),
    )
    target.start()
    cluster.nodes.append(target)
    source.command("CLUSTER", "MEET", "127.0.0.1", str(target.port))
    deadline = time.monotonic() + 20
    while not all(
        cluster.node_id(target) in n.command("CLUSTER", "NODES").decode() for n in cluster.nodes
    ):
        assert time.monotonic() < deadline, "the new node was not met"
        time.sleep(0.1)
    while b"cluster_state:ok" not in target.command("CLUSTER", "INFO"):
        assert time.monotonic() < deadline, "the new node never saw the cluster whole"
        time.sleep(0.1)
    writes = Writes(server.base)
    writer = threading.Thread(target=writes.run)
    writer.start()
    reads = Reads(server.base)
    reader = threading.Thread(target=reads.run)
    reader.start()
    try:
        time.sleep(1.0)
        started = time.monotonic()
        source_id, target_id = cluster.node_id(source), cluster.node_id(target)
        assert target.command("CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id) == b"+OK\r\n"
        assert source.command("CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id) == b"+OK\r\n"
        moved = 0
        while True:
            # A few keys at a time, slowly: the slot stays split between the nodes for
            # about half a second, under reads, listings and writes. The bucket's indexes
            # first, its documents after them: the order in which a walk that ran on the new
            # node would meet documents not there yet.
            reply = source.command("CLUSTER", "GETKEYSINSLOT", str(slot), "100000").decode()
            found = [line for line in reply.split("\r\n")[1:] if line and not line.startswith("$")]
            keys = sorted(found, key=lambda key: ":d:" in key)[:5]
            if not keys:
                break
            answer = source.command(
                "MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000", "REPLACE", "KEYS", *keys
            )
            assert answer.startswith((b"+OK", b"+NOKEY")), answer
            moved += len(keys)
            time.sleep(0.01)
        for node in [*cluster.nodes[: cluster.primaries], target]:
            node.command("CLUSTER", "SETSLOT", str(slot), "NODE", target_id)
        took = time.monotonic() - started
        time.sleep(2.0)
    finally:
        writes.stopping.set()
        reads.stopping.set()
        writer.join(30)
        reader.join(30)
    with httpx.Client(base_url=server.base, timeout=5) as client:
        gone = [n for n, _ in writes.acknowledged if client.get(f"/w/{n}").status_code != 200]
    refused_during = [s for _, t, s in writes.refused if started <= t <= started + took + 2]
    print(
        f"resharding: {moved} keys moved in {took:.1f} s under writes; "
        f"{len(writes.acknowledged)} acknowledged, {len(writes.refused)} refused "
        f"({len(refused_during)} during the move), {len(gone)} lost"
    )
    print(f"resharding: {reads.answered} reads and pages answered, refused: {reads.refused}")
    assert gone == []
    assert writes.refused == []
    assert reads.refused == [] and reads.answered > 0
    assert tag.encode() in target.command("KEYS", "*")
    with httpx.Client(base_url=server.base, timeout=5) as client:
        assert client.get("/many/2999").json() == {"i": 2999}
        assert len(listed(client, "/many/")) == 3000
    assert source.command("KEYS", f"*{tag}*") == b"*0\r\n"
    after = [n for n, t in writes.acknowledged if t > started + took + 0.5]
    assert after, "no write acknowledged after the move"

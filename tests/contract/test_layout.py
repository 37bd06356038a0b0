"""The Redis keyspace's layout (PATHKV_REDIS_BUCKETS) is fixed when it is created and
recorded in it: a store set to another refuses it with one line, as does the server at
start, and a keyspace written before the layout was recorded counts as one bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from pathkv.config import Settings
from pathkv.core.contract import StoreError, Write
from pathkv.core.documents import digest
from pathkv.core.namespaces import DEFAULT
from pathkv.core.service import now_ms
from pathkv.stores.redis.layout import Layout, key_slot
from pathkv.stores.registry import open_store
from tests.servers import RedisServer, free_port


def write(path: str) -> Write:
    now = now_ms()
    return Write(path, b"{}", digest(b"{}"), now, now + 60_000)


@pytest.mark.parametrize(("made", "served"), [(1, 4), (4, 1), (4, 8)])
async def test_a_keyspace_of_another_layout_is_refused(
    redis_servers: dict[str, RedisServer], made: int, served: int
) -> None:
    url = redis_servers["redis"].url
    prefix = f"l{uuid.uuid4().hex[:8]}:"
    store = open_store(Settings(store=url, redis_prefix=prefix, redis_buckets=made))
    await store.open()
    await store.put(DEFAULT, write("/kept"), None)
    await store.close()
    other = open_store(Settings(store=url, redis_prefix=prefix, redis_buckets=served))
    with pytest.raises(StoreError) as refused:
        await other.open()
    assert str(refused.value) == (
        f"the Redis keyspace under prefix {prefix!r} was made with {made} bucket(s), this "
        f"server is set to {served}: set PATHKV_REDIS_BUCKETS={made}, or move the data to a "
        "new prefix with pathkv export | pathkv import"
    )
    with pytest.raises(StoreError, match="was made with"):
        await other.get(DEFAULT, "/kept", now_ms(), False)
    await other.close()
    again = open_store(Settings(store=url, redis_prefix=prefix, redis_buckets=made))
    await again.open()
    assert await again.get(DEFAULT, "/kept", now_ms(), False) is not None
    await again.close()


async def test_a_keyspace_from_before_the_record_is_one_bucket(
    redis_servers: dict[str, RedisServer],
) -> None:
    server = redis_servers["redis"]
    prefix = f"l{uuid.uuid4().hex[:8]}:"
    store = open_store(Settings(store=server.url, redis_prefix=prefix))
    await store.open()
    await store.put(DEFAULT, write("/old"), None)
    await store.close()
    server.command("DEL", prefix + "layout")  # as the previous release left it
    bucketed = open_store(Settings(store=server.url, redis_prefix=prefix, redis_buckets=4))
    with pytest.raises(StoreError, match="made with 1 bucket"):
        await bucketed.open()
    await bucketed.close()
    store = open_store(Settings(store=server.url, redis_prefix=prefix))
    await store.open()
    assert await store.get(DEFAULT, "/old", now_ms(), False) is not None
    await store.close()
    assert server.command("GET", prefix + "layout") == b"$9\r\nbuckets=1\r\n"
    # an empty prefix takes any layout, and keeps the first
    fresh = f"l{uuid.uuid4().hex[:8]}:"
    store = open_store(Settings(store=server.url, redis_prefix=fresh, redis_buckets=4))
    await store.open()
    await store.close()
    assert server.command("GET", fresh + "layout") == b"$9\r\nbuckets=4\r\n"


def test_the_server_does_not_start_on_another_layout(
    redis_servers: dict[str, RedisServer],
) -> None:
    server = redis_servers["redis"]
    prefix = f"l{uuid.uuid4().hex[:8]}:"
    server.command("SET", prefix + "layout", "buckets=1")
    env = {
        **os.environ,
        "PATHKV_REDIS_PREFIX": prefix,
        "PATHKV_REDIS_BUCKETS": "4",
        "PATHKV_PORT": str(free_port()),
        "PATHKV_AUTH": "off",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pathkv", "serve", "--store", server.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"pathkv: error: the Redis keyspace under prefix {prefix!r} was made with 1 "
        "bucket(s), this server is set to 4: set PATHKV_REDIS_BUCKETS=1, or move the data "
        "to a new prefix with pathkv export | pathkv import"
    )


def test_bucket_tags_spread_over_the_slots() -> None:
    """Bucket b's hash tag is in the b-th of equal ranges of the 16384 slots, so buckets
    split evenly over primaries that split the slots evenly; with one bucket the keys are
    the prefix's own (as before buckets), under one tag on a cluster."""
    for buckets in (2, 3, 16, 256):
        layout = Layout("pathkv:", buckets, cluster=True)
        slots = [key_slot(root) for root in layout.roots]
        assert [slot * buckets // 16384 for slot in slots] == list(range(buckets))
    assert Layout("pathkv:", 1, cluster=False).roots == ["pathkv:"]
    assert Layout("pathkv:", 1, cluster=True).roots == ["{pathkv}:"]
    assert Layout("pathkv:", 16, cluster=True).home == "{pathkv}:"
    assert key_slot("{user1000}.following") == key_slot("user1000") == 3443  # Redis' example
    layout = Layout("pathkv:", 16, cluster=True)
    chosen = {layout.bucket(DEFAULT, f"/doc/{n}") for n in range(400)}
    assert chosen == set(range(16))


@pytest.mark.parametrize("where", ["one Redis", "cluster"])
async def test_a_document_missing_before_its_time(
    where: str, request: pytest.FixtureRequest
) -> None:
    """A document string gone while its lifetime runs (evicted, or on a cluster not yet on
    the node a walk runs on, its slot moving): one Redis forgets it when a listing meets it
    (an evicted document leaves the index and its namespace's usage); a cluster lists it
    not, but forgets nothing until its time, which the sweep keeps."""
    if where == "cluster":
        cluster = request.getfixturevalue("redis_clusters")["redis"]
        url, nodes = cluster.url, cluster.nodes[: cluster.primaries]
    else:
        server = request.getfixturevalue("redis_servers")["redis"]
        url, nodes = server.url, [server]
    prefix = f"m{uuid.uuid4().hex[:8]}:"
    settings = Settings(store=url, redis_prefix=prefix)
    store = open_store(settings)
    await store.open()
    try:
        await store.put(DEFAULT, write("/stays"), None)
        await store.put(DEFAULT, write("/gone"), None)
        layout = Layout(prefix, 16 if where == "cluster" else 1, cluster=where == "cluster")
        base = layout.base(DEFAULT, layout.bucket(DEFAULT, "/gone"))
        for node in nodes:  # only the node that serves the slot has it
            node.command("DEL", base + "d:/gone")
        listed = await store.keys(DEFAULT, "/", None, 10, now_ms())
        assert listed == ["/stays"]
        usage = await store.usage(DEFAULT)
        # A score where the path is indexed, $-1 where not, MOVED from other primaries.
        scores = [node.command("ZSCORE", base + "keys", "/gone") for node in nodes]
        kept = any(score.startswith(b"$") and score != b"$-1\r\n" for score in scores)
        if where == "cluster":
            assert kept and usage.documents == 2
            assert await store.sweep(DEFAULT, now_ms(), 100) == 0
        else:
            assert not kept and usage.documents == 1
    finally:
        await store.close()

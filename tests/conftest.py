from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import PathkvServer, RedisServer, redis_binaries

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


def store_kinds() -> list[str]:
    return ["sqlite", *(f"redis:{name}" for name in redis_binaries())]


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

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathkv.client import Client
from tests.conftest import store_kinds
from tests.servers import PathkvServer, RedisServer

ADMIN = "admin-" + uuid.uuid4().hex


def start_server(
    kind: str, tmp: Path, redis_servers: dict[str, RedisServer], **env: str
) -> PathkvServer:
    """`pathkv serve` with auth on (admin token ADMIN) on SQLite or one of the Redis servers."""
    environment = {"PATHKV_AUTH": "on", "PATHKV_ADMIN_TOKEN": ADMIN, **env}
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'client.db'}"
    else:
        url = redis_servers[kind.split(":", 1)[1]].url
        environment["PATHKV_REDIS_PREFIX"] = f"c{uuid.uuid4().hex[:8]}:"
    server = PathkvServer(url, env=environment, log=tmp / "server.log")
    server.start()
    server.wait_ready()
    return server


@pytest.fixture(scope="module", params=store_kinds()[:2])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_servers: dict[str, RedisServer],
) -> Iterator[PathkvServer]:
    running = start_server(request.param, tmp_path_factory.mktemp("client"), redis_servers)
    yield running
    running.stop()


@pytest.fixture
def admin(server: PathkvServer) -> Iterator[Client]:
    with Client(server.base, token=ADMIN) as client:
        yield client


@pytest.fixture
def kv(server: PathkvServer, admin: Client) -> Iterator[Client]:
    """A client with the token of a tenant of its own (read and write everywhere)."""
    name = "t" + uuid.uuid4().hex[:10]
    admin.put_tenant(name)
    made = admin.create_token(name, name="tests")
    with Client(server.base, token=made["token"]) as client:
        yield client

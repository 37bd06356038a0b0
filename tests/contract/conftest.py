from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pathkv.config import Settings
from pathkv.stores.contract import Store
from pathkv.stores.registry import open_store
from tests.conftest import store_kinds
from tests.servers import RedisServer


def settings_for(kind: str, tmp_path: Path, redis_servers: dict[str, RedisServer]) -> Settings:
    if kind == "sqlite":
        return Settings(store=f"sqlite:///{tmp_path / 'contract.db'}", hit_flush_interval=0.1)
    server = redis_servers[kind.split(":", 1)[1]]
    return Settings(store=server.url, redis_prefix=f"t{uuid.uuid4().hex[:8]}:")


@pytest.fixture(params=store_kinds())
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> AsyncIterator[Store]:
    """The same contract, run against every engine: a real SQLite file, real Redis servers."""
    engine = open_store(settings_for(request.param, tmp_path, redis_servers))
    await engine.open()
    yield engine
    await engine.close()

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pathkv.config import Settings
from pathkv.core.contract import Record, Store, Write
from pathkv.core.etags import Expect
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.stores.registry import open_store
from tests.conftest import BUCKETS_ON_ONE_SERVER, store_kinds

OTHER = Namespace("acme")
NAMESPACES = [DEFAULT, OTHER]


def settings_for(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if kind == "sqlite":
        return Settings(store=f"sqlite:///{tmp_path / 'contract.db'}", hit_flush_interval=0.1)
    family, _, name = kind.partition(":")
    servers = request.getfixturevalue("redis_clusters" if family == "cluster" else "redis_servers")
    buckets = BUCKETS_ON_ONE_SERVER if family == "buckets" else 0
    return Settings(
        store=servers[name].url, redis_prefix=f"t{uuid.uuid4().hex[:8]}:", redis_buckets=buckets
    )


class InNamespace:
    """One engine seen through one namespace: the contract's operations with ``ns`` bound,
    so every case of the suite runs unchanged in each namespace."""

    def __init__(self, engine: Store, ns: Namespace) -> None:
        self.engine = engine
        self.ns = ns

    async def put(self, write: Write, expect: Expect | None) -> tuple[Record, bool]:
        return await self.engine.put(self.ns, write, expect)

    async def get(self, path: str, now: int, count_hit: bool) -> Record | None:
        return await self.engine.get(self.ns, path, now, count_hit)

    async def delete(self, path: str, now: int, expect: Expect | None) -> bool:
        return await self.engine.delete(self.ns, path, now, expect)

    async def keys(
        self, prefix: str, after: str | None, limit: int, now: int, inclusive: bool = False
    ) -> list[str]:
        return await self.engine.keys(self.ns, prefix, after, limit, now, inclusive)

    async def records(self, after: str | None, limit: int, now: int) -> list[Record]:
        return await self.engine.records(self.ns, after, limit, now)

    async def restore(self, record: Record, now: int) -> bool:
        return await self.engine.restore(self.ns, record, now)

    async def incr_root(self, by: int = 1) -> int:
        return await self.engine.incr_root(self.ns, by)

    async def top_hits(self, limit: int, now: int) -> list[tuple[str, int]]:
        return await self.engine.top_hits(self.ns, limit, now)

    async def sweep(self, now: int, limit: int) -> int:
        return await self.engine.sweep(self.ns, now, limit)

    async def flush(self) -> None:
        await self.engine.flush()

    async def ping(self) -> None:
        await self.engine.ping()


@pytest.fixture(params=store_kinds())
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The same contract, run against every engine: a real SQLite file, real Redis servers,
    real Redis and Valkey Clusters."""
    opened = open_store(settings_for(request.param, tmp_path, request))
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture(params=NAMESPACES, ids=lambda ns: f"ns={ns.name}")
async def store(request: pytest.FixtureRequest, engine: Store) -> InNamespace:
    """Every case runs in the default namespace and in another one."""
    return InNamespace(engine, request.param)

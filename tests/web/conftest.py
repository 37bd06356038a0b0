from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pathkv.config import Settings
from pathkv.web.app import App, create_app
from tests.servers import RedisServer, redis_binaries

KINDS = ["sqlite", *(["redis"] if redis_binaries() else [])]


@pytest.fixture(params=KINDS)
async def app(
    request: pytest.FixtureRequest, tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> AsyncIterator[App]:
    if request.param == "sqlite":
        settings = Settings(
            store=f"sqlite:///{tmp_path / 'web.db'}", hit_flush_interval=0.1, log_level="WARNING"
        )
    else:
        server = next(iter(redis_servers.values()))
        settings = Settings(
            store=server.url, redis_prefix=f"w{uuid.uuid4().hex[:8]}:", log_level="WARNING"
        )
    application = create_app(settings)
    await application.startup()
    yield application
    await application.shutdown()


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pathkv.test") as c:
        yield c

from __future__ import annotations

from pathlib import Path

import pytest

from pathkv.config import ConfigError, Settings
from pathkv.stores.redis import _config
from pathkv.stores.registry import open_store, sqlite_path


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:///data/p.db") == Path("data/p.db")
    assert sqlite_path("sqlite:////var/lib/p.db") == Path("/var/lib/p.db")
    for bad in ("sqlite://host/p.db", "sqlite:///", "sqlite:"):
        with pytest.raises(ConfigError):
            sqlite_path(bad)


def test_redis_urls() -> None:
    config = _config(Settings(store="rediss://user:s%40cret@cache.internal:6380/3",
                              redis_timeout=0.25, redis_connect_timeout=1.5))
    assert config.use_tls is True
    assert config.database_id == 3
    assert config.credentials.username == "user"
    assert config.credentials.password == "s@cret"
    assert (config.addresses[0].host, config.addresses[0].port) == ("cache.internal", 6380)
    assert config.request_timeout == 250
    plain = _config(Settings(store="redis://localhost"))
    assert plain.use_tls is False and plain.database_id == 0 and plain.credentials is None
    assert plain.addresses[0].port == 6379
    password_only = _config(Settings(store="redis://:pw@h:1/0"))
    assert password_only.credentials.password == "pw"
    assert password_only.credentials.username is None


@pytest.mark.parametrize("url", ["redis://h:port/0", "redis://h:1/db", "redis:///0",
                                 "memcached://h", "nonsense"])
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(Settings(store=url))

from __future__ import annotations

from pathlib import Path

import pytest

from pathkv.config import ConfigError, Settings
from pathkv.stores.redis.store import client_config
from pathkv.stores.registry import engine_for, open_store, redis_options
from pathkv.stores.sqlite.options import SQLiteURLError, sqlite_path


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:///data/p.db") == Path("data/p.db")
    assert sqlite_path("sqlite:////var/lib/p.db") == Path("/var/lib/p.db")
    assert sqlite_path("sqlite:///~/p.db") == Path.home() / "p.db"
    for bad in ("sqlite://host/p.db", "sqlite:///", "sqlite:"):
        with pytest.raises(SQLiteURLError):
            sqlite_path(bad)


def _config(url: str, **settings: float) -> object:
    return client_config(redis_options(Settings(store=url, **settings)))  # type: ignore[arg-type]


def test_redis_urls() -> None:
    config: object = _config(
        "rediss://user:s%40cret@cache.internal:6380/3",
        redis_timeout=0.25,
        redis_connect_timeout=1.5,
    )
    assert config.use_tls is True  # type: ignore[attr-defined]
    assert config.database_id == 3  # type: ignore[attr-defined]
    assert config.credentials.username == "user"  # type: ignore[attr-defined]
    assert config.credentials.password == "s@cret"  # type: ignore[attr-defined]
    address = config.addresses[0]  # type: ignore[attr-defined]
    assert (address.host, address.port) == ("cache.internal", 6380)
    assert config.request_timeout == 250  # type: ignore[attr-defined]
    plain: object = _config("redis://localhost")
    assert plain.use_tls is False and plain.database_id == 0  # type: ignore[attr-defined]
    assert plain.credentials is None  # type: ignore[attr-defined]
    assert plain.addresses[0].port == 6379  # type: ignore[attr-defined]
    password_only: object = _config("redis://:pw@h:1/0")
    assert password_only.credentials.password == "pw"  # type: ignore[attr-defined]
    assert password_only.credentials.username is None  # type: ignore[attr-defined]


def test_the_registry_names_each_engine_and_its_location() -> None:
    assert engine_for("sqlite:///x.db").name == "sqlite"
    assert engine_for("rediss://h/0").works_off_loop is True
    assert engine_for("sqlite:///x.db").works_off_loop is False
    # a location never shows a password
    assert (
        engine_for("redis://u:secret@h:7/2").location("redis://u:secret@h:7/2") == "redis://h:7/2"
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:port/0",
        "redis://h:1/db",
        "redis:///0",
        "memcached://h",
        "nonsense",
        "sqlite://host/x.db",
    ],
)
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(Settings(store=url))


def test_sentinel_urls() -> None:
    options = redis_options(
        Settings(store="redis+sentinel://app:s%40cret@10.0.0.1:26379,[::1]:26380/cache/2")
    )
    assert options.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (options.master, options.database) == ("cache", 2)
    assert (options.username, options.password, options.tls) == ("app", "s@cret", False)
    assert options.address == "redis+sentinel://10.0.0.1:26379,::1:26380/cache/2"
    assert engine_for("rediss+sentinel://h:1/m").name == "redis"
    assert redis_options(Settings(store="rediss+sentinel://h:1/m")).tls is True
    for bad, why in (
        ("redis+sentinel://h/m", "host:port"),
        ("redis+sentinel://h:1", "name the primary"),
        ("redis+sentinel://h:1,h:x/m", "host:port"),
        ("redis+sentinel://u:pw@h:1/m/db", "must be a number"),
    ):
        with pytest.raises(ConfigError, match=why) as caught:
            redis_options(Settings(store=bad))
        assert "pw" not in str(caught.value)


def test_cluster_urls() -> None:
    options = redis_options(Settings(store="redis+cluster://app:pw@10.0.0.1:7000,[::1]:7001"))
    assert options.cluster == (("10.0.0.1", 7000), ("::1", 7001))
    assert (options.username, options.password, options.database) == ("app", "pw", 0)
    assert options.address == "redis+cluster://10.0.0.1:7000,::1:7001"
    # buckets under hash tags of their own: 16 on a cluster, 1 on a single Redis
    assert (options.prefix, options.buckets) == ("pathkv:", 16)
    assert redis_options(Settings(store="redis://h:1")).buckets == 1
    one = redis_options(Settings(store="redis+cluster://h:1", redis_buckets=1))
    assert one.buckets == 1
    tagged = redis_options(
        Settings(store="redis+cluster://h:1", redis_prefix="{team-a}:kv:", redis_buckets=1)
    )
    assert tagged.prefix == "{team-a}:kv:"
    with pytest.raises(ConfigError, match="holds a hash tag"):
        redis_options(Settings(store="redis+cluster://h:1", redis_prefix="{team-a}:kv:"))
    with pytest.raises(ConfigError, match="PATHKV_REDIS_BUCKETS must be from 1 to 256"):
        redis_options(Settings(store="redis://h:1", redis_buckets=257))
    assert engine_for("rediss+cluster://h:1").name == "redis"
    assert redis_options(Settings(store="rediss+cluster://h:1,h:2/")).tls is True
    for bad, why in (
        ("redis+cluster://h", "host:port"),
        ("redis+cluster://h:1,h/", "host:port"),
        ("redis+cluster://u:pw@h:1/3", "one database"),
    ):
        with pytest.raises(ConfigError, match=why) as caught:
            redis_options(Settings(store=bad))
        assert "pw" not in str(caught.value)


def test_waiting_for_replicas_lengthens_the_request_timeout() -> None:
    config: object = _config(
        "redis://localhost", redis_timeout=0.5, redis_wait_replicas=1, redis_wait_timeout=2.0
    )
    assert config.request_timeout == 2500  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="WAIT_REPLICAS"):
        Settings(store="redis://localhost", redis_wait_replicas=-1).validate()

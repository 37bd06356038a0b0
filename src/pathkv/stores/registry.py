"""Store selection by URL: each engine, its URL schemes, and its options from the settings.

The registry is the only place that knows the engines: the command line and the serving side
ask it, and an engine never reads the whole Settings, only the options built for it here.
Engine modules are imported when a store is built, so importing this opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pathkv.config import ConfigError, Settings
from pathkv.core.contract import Store
from pathkv.stores.redis.layout import CLUSTER_BUCKETS, MAX_BUCKETS, has_hash_tag
from pathkv.stores.redis.options import (
    CLUSTER_SCHEMES,
    SENTINEL_SCHEMES,
    RedisOptions,
    RedisURLError,
    parse_url,
)
from pathkv.stores.sqlite.options import SQLiteOptions, SQLiteURLError, sqlite_path


@dataclass(frozen=True)
class Engine:
    name: str
    schemes: tuple[str, ...]
    local: bool
    """True for a store that is a file on this machine: `pathkv serve` opens (creates,
    migrates) it once before the workers start."""
    works_off_loop: bool
    """True when the engine's work runs outside the event loop's thread (a server over the
    network), so the loop waits on it for every call; the serving side tunes threads by it."""
    build: Callable[[Settings, bool], Store]
    """Build (not open) a store; the flag is False for maintenance, which must not create."""
    location: Callable[[str], str]
    """Where the store is, for logs: a file, or a server without its credentials."""
    problem: Callable[[Settings], str | None]
    """A quick look before serving: what stops the store from working now, or None."""


def _sqlite_options(settings: Settings, create: bool) -> SQLiteOptions:
    try:
        path = sqlite_path(settings.store)
    except SQLiteURLError as exc:
        raise ConfigError(str(exc)) from None
    return SQLiteOptions(path, settings.hit_flush_interval, settings.sqlite_busy_timeout, create)


def _build_sqlite(settings: Settings, create: bool) -> Store:
    from pathkv.stores.sqlite.store import SQLiteStore

    return SQLiteStore(_sqlite_options(settings, create))


def redis_options(settings: Settings) -> RedisOptions:
    try:
        connection = parse_url(settings.store)
    except RedisURLError as exc:
        raise ConfigError(str(exc)) from None
    buckets = settings.redis_buckets or (CLUSTER_BUCKETS if connection.get("cluster") else 1)
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ConfigError(f"PATHKV_REDIS_BUCKETS must be from 1 to {MAX_BUCKETS} (0: the default)")
    if buckets > 1 and has_hash_tag(settings.redis_prefix):
        raise ConfigError(
            f"PATHKV_REDIS_PREFIX {settings.redis_prefix!r} holds a hash tag: with "
            f"{buckets} buckets each needs its own (remove the braces, or set "
            "PATHKV_REDIS_BUCKETS=1 to keep every key in one slot)"
        )
    return RedisOptions(
        **connection,  # type: ignore[arg-type]
        prefix=settings.redis_prefix,
        buckets=buckets,
        pool_size=settings.redis_pool_size,
        connect_timeout=settings.redis_connect_timeout,
        timeout=settings.redis_timeout,
        retries=settings.redis_retries,
        allow_eviction=settings.redis_allow_eviction,
        wait_replicas=settings.redis_wait_replicas,
        wait_timeout=settings.redis_wait_timeout,
    )


def _build_redis(settings: Settings, create: bool) -> Store:
    from pathkv.stores.redis.store import RedisStore

    return RedisStore(redis_options(settings))


def _redis_problem(settings: Settings) -> str | None:
    from pathkv.stores.redis.probe import problem

    return problem(redis_options(settings))


def _no_problem(settings: Settings) -> str | None:
    """The embedded store is opened (created, migrated) before serving; that is its check."""
    return None


def _sqlite_location(url: str) -> str:
    try:
        return str(sqlite_path(url))
    except SQLiteURLError as exc:
        raise ConfigError(str(exc)) from None


def _redis_location(url: str) -> str:
    try:
        return RedisOptions(**parse_url(url)).address  # type: ignore[arg-type]
    except RedisURLError as exc:
        raise ConfigError(str(exc)) from None


ENGINES = (
    Engine("sqlite", ("sqlite",), True, False, _build_sqlite, _sqlite_location, _no_problem),
    Engine(
        "redis",
        ("redis", "rediss", *SENTINEL_SCHEMES, *CLUSTER_SCHEMES),
        False,
        True,
        _build_redis,
        _redis_location,
        _redis_problem,
    ),
)
SCHEMES = tuple(scheme for engine in ENGINES for scheme in engine.schemes)


def engine_for(url: str) -> Engine:
    scheme = urlsplit(url).scheme
    for engine in ENGINES:
        if scheme in engine.schemes:
            return engine
    raise ConfigError(
        f"store URL {url!r}: unknown scheme {scheme!r} (use one of {', '.join(SCHEMES)})"
    )


def open_store(settings: Settings, create: bool = True) -> Store:
    """Build (not yet open) the store the settings name; create=False for maintenance
    commands, which must fail on a store that does not exist rather than create it."""
    return engine_for(settings.store).build(settings, create)


__all__ = ["ENGINES", "Engine", "engine_for", "open_store", "redis_options"]

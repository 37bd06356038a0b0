"""Store selection by URL: ``sqlite:///path.db``, ``redis://...``, ``rediss://...``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pathkv.config import ConfigError, Settings
from pathkv.stores.contract import Store

SCHEMES = ("sqlite", "redis", "rediss")


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel.db`` is relative to the working directory, ``sqlite:////abs.db`` absolute."""
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise ConfigError(f"store URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db")
    return Path(parts.path[1:])


def open_store(settings: Settings) -> Store:
    """Build (not yet open) the store the settings name."""
    scheme = urlsplit(settings.store).scheme
    if scheme == "sqlite":
        from pathkv.stores.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(settings.store), settings.hit_flush_interval,
                           settings.sqlite_busy_timeout)
    if scheme in ("redis", "rediss"):
        from pathkv.stores.redis import RedisStore

        return RedisStore.from_settings(settings)
    raise ConfigError(
        f"store URL {settings.store!r}: unknown scheme {scheme!r} (use one of {', '.join(SCHEMES)})"
    )

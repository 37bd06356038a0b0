"""Options of the Redis store, parsed from its URL and the settings that concern it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class RedisURLError(ValueError):
    """The URL does not name a Redis server."""


@dataclass(frozen=True, slots=True)
class RedisOptions:
    host: str
    port: int = 6379
    database: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = None
    prefix: str = "pathkv:"
    """Prefix of every key pathkv writes, so it can share a Redis."""
    pool_size: int = 1
    """Connections per worker (each multiplexed)."""
    connect_timeout: float = 2.0
    """Seconds to establish a connection."""
    timeout: float = 1.0
    """Seconds for one request before it counts as timed out."""
    retries: int = 5
    """Reconnection attempts with exponential backoff."""
    allow_eviction: bool = False
    """Take writes even when Redis' maxmemory-policy may evict documents."""

    @property
    def address(self) -> str:
        """Where the server is, without credentials (for logs)."""
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.database}"


def parse_url(url: str) -> dict[str, object]:
    """The connection fields of ``redis://[[user]:password@]host[:port][/db]`` (or rediss)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisURLError(f"store URL {url!r}: use redis://host:port/db or rediss://...")
    try:
        port = parts.port or 6379
        database = int(parts.path.strip("/") or 0)
    except ValueError:
        raise RedisURLError(f"store URL {url!r}: port and database must be numbers") from None
    if not parts.hostname:
        raise RedisURLError(f"store URL {url!r}: a host is required")
    if not 0 <= database <= 1_000_000:
        raise RedisURLError(f"store URL {url!r}: the database must be a small number")
    return {
        "host": parts.hostname,
        "port": port,
        "database": database,
        "tls": parts.scheme == "rediss",
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
    }

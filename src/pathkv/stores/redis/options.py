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
    buckets: int = 1
    """Buckets the keyspace is split into (layout.py)."""
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
    sentinels: tuple[tuple[str, int], ...] = ()
    """With ``redis+sentinel://``: the sentinels to ask where the primary is (host and port
    then name the primary last found)."""
    master: str | None = None
    """The name the sentinels know the primary by."""
    cluster: tuple[tuple[str, int], ...] = ()
    """With ``redis+cluster://``: seed nodes of a Redis (or Valkey) Cluster."""
    wait_replicas: int = 0
    """Replicas each write must reach before it is acknowledged (WAIT), 0: none."""
    wait_timeout: float = 1.0
    """Seconds a write waits for them."""

    @property
    def address(self) -> str:
        """Where the server is, without credentials (for logs)."""
        scheme = "rediss" if self.tls else "redis"
        if self.cluster:
            return f"{scheme}+cluster://" + ",".join(f"{h}:{p}" for h, p in self.cluster)
        if self.sentinels:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"{scheme}+sentinel://{hosts}/{self.master}/{self.database}"
        return f"{scheme}://{self.host}:{self.port}/{self.database}"


SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


def parse_url(url: str) -> dict[str, object]:
    """The connection fields of ``redis://[[user]:password@]host[:port][/db]`` (or rediss),
    of ``redis+sentinel://[[user]:password@]host:port[,host:port...]/<master>[/db]``, or of
    ``redis+cluster://[[user]:password@]host:port[,host:port...]``."""
    parts = urlsplit(url)
    if parts.scheme in SENTINEL_SCHEMES:
        return _parse_sentinel_url(url, parts.scheme)
    if parts.scheme in CLUSTER_SCHEMES:
        return _parse_cluster_url(url, parts.scheme)
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


def _parse_hosts(
    url: str, scheme: str, what: str, example: str
) -> tuple[list[tuple[str, int]], dict[str, object], str]:
    """Several hosts in one URL (urlsplit cannot read their ports, so split by hand): the
    hosts, the credentials' fields, and the path after them."""
    rest = url[len(scheme) + 3 :]
    netloc, _, path = rest.partition("/")
    credentials, _, hosts = netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    found: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisURLError(
                f"store URL {_masked(url)!r}: every {what} is host:port ({example}), not {item!r}"
            )
        found.append((host.strip("[]"), int(port)))
    fields: dict[str, object] = {
        "host": found[0][0],
        "port": found[0][1],
        "tls": scheme.startswith("rediss"),
        "username": unquote(username) if username else None,
        "password": unquote(password) if credentials and ":" in credentials else None,
    }
    return found, fields, path


def _parse_cluster_url(url: str, scheme: str) -> dict[str, object]:
    nodes, fields, path = _parse_hosts(
        url, scheme, "seed node", "redis+cluster://host:6379,host:6379"
    )
    if path.strip("/") not in ("", "0"):
        raise RedisURLError(
            f"store URL {_masked(url)!r}: a Redis Cluster has one database, 0: give no /db"
        )
    return {**fields, "database": 0, "cluster": tuple(nodes)}


def _parse_sentinel_url(url: str, scheme: str) -> dict[str, object]:
    sentinels, fields, path = _parse_hosts(
        url, scheme, "sentinel", "redis+sentinel://host:26379,host:26379/<master>[/db]"
    )
    master, _, database = path.partition("/")
    if not master:
        raise RedisURLError(f"store URL {_masked(url)!r}: name the primary: .../<master>[/db]")
    if database.strip("/") and not database.strip("/").isdigit():
        raise RedisURLError(f"store URL {_masked(url)!r}: the database must be a number")
    return {
        **fields,
        "database": int(database.strip("/") or 0),
        "sentinels": tuple(sentinels),
        "master": unquote(master),
    }


def _masked(url: str) -> str:
    """The URL without its password, for messages."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{tail}"

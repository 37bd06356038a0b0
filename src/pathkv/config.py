"""One Settings object: ``PATHKV_*`` environment variables first, CLI flags override.

Every field has a default, a type and a docstring; README.md's configuration table lists them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PATHKV_"
# Set by `pathkv serve` for its workers: a file that exists once shutdown has begun.
DRAIN_FILE_ENV = "PATHKV_DRAIN_FILE"
# Set by `pathkv serve --pin-workers`: where workers claim their CPUs.
CPU_LOCK_DIR_ENV = "PATHKV_CPU_LOCK_DIR"
# Set by `pathkv serve`: the supervising process; a worker whose parent is gone stops.
PARENT_PID_ENV = "PATHKV_PARENT_PID"
# The settings that `pathkv serve` also takes as flags.
CLI_FLAGS = ("host", "port", "workers", "pin_workers", "store")
LARGEST_TTL = 100 * 365 * 24 * 3600
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(Exception):
    """A setting has a value pathkv cannot use; the message names it."""


def setting_name(field: str) -> str:
    """How a user names a setting: ``PATHKV_WORKERS``, or ``--workers / PATHKV_WORKERS``."""
    variable = ENV_PREFIX + field.upper()
    if field in CLI_FLAGS:
        return f"--{field.replace('_', '-')} / {variable}"
    return variable


def default_store_url() -> str:
    """``sqlite:///$XDG_DATA_HOME/pathkv/pathkv.db`` (``~/.local/share/pathkv/pathkv.db``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'pathkv' / 'pathkv.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8080
    """TCP port to listen on."""
    workers: int = 1
    """Server worker processes."""
    pin_workers: bool = False
    """Pin each worker to a CPU of its own; for a machine or cpuset that runs only pathkv."""
    store: str = dataclasses.field(default_factory=default_store_url)
    """Store URL: sqlite:///path.db, redis://[:password@]host:port/db or rediss://..."""
    store_file: str = ""
    """A file holding the store URL (a mounted Secret, when the URL carries a password)."""
    default_ttl: int = 365 * 24 * 3600
    """Seconds a document lives after its last write, unless the PUT gives ?ttl=."""
    max_ttl: int = 10 * 365 * 24 * 3600
    """Largest ?ttl= a client may ask for, in seconds."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    body_budget_bytes: int = 64 * 1024 * 1024
    """Bytes of request bodies one worker holds in memory at once (503 with Retry-After when
    a body finds no room within 2 s); at least PATHKV_MAX_BODY_BYTES."""
    max_depth: int = 64
    """Deepest JSON nesting accepted (400 beyond)."""
    max_path_bytes: int = 1024
    """Longest normalized path in UTF-8 bytes (414 beyond)."""
    body_timeout: float = 10.0
    """Seconds a client may take to send its whole body (408 beyond)."""
    idle_timeout: float = 10.0
    """Seconds a client connection may stay silent, with no request in flight, before it is
    closed (from its accept, and between requests)."""
    max_connections: int = 4096
    """Open client connections per worker; more wait to be accepted."""
    header_timeout: float = 10.0
    """Seconds a client may take to send its request headers (the connection is closed)."""
    log_level: str = "INFO"
    """Log level; INFO logs one JSON line per request."""
    sqlite_busy_timeout: float = 5.0
    """Seconds a write waits for another process's lock on the SQLite file (503 beyond)."""
    hit_flush_interval: float = 0.5
    """Seconds between writes of buffered hit counts (embedded store)."""
    sweep_interval: float = 60.0
    """Seconds between background removals of expired documents; 0 turns it off."""
    shutdown_delay: float = 1.0
    """Seconds /-/readyz answers 503 after SIGTERM before the server stops accepting."""
    redis_prefix: str = "pathkv:"
    """Prefix of every Redis key pathkv writes, so it can share a Redis."""
    redis_buckets: int = 0
    """Buckets the Redis keyspace is split into (hash tags, so Redis Cluster slots), fixed
    when the keyspace is created; 0: 1 on a single Redis, 16 on a cluster."""
    redis_pool_size: int = 1
    """Redis connections per worker (each is multiplexed; requests pipeline on it)."""
    redis_connect_timeout: float = 2.0
    """Seconds to wait for a Redis connection."""
    redis_timeout: float = 1.0
    """Seconds to wait for one Redis request before answering 504."""
    redis_retries: int = 5
    """Reconnection attempts, with exponential backoff, before a connection is declared lost."""
    redis_allow_eviction: bool = False
    """Take writes although Redis' maxmemory-policy is not noeviction (Redis may then drop
    acknowledged documents when it is full)."""
    redis_wait_replicas: int = 0
    """Replicas a write must reach (Redis WAIT) before it is acknowledged; 0: none."""
    redis_wait_timeout: float = 1.0
    """Seconds a write waits for those replicas before it is answered 503."""
    cors_origins: str = ""
    """Origins (``https://app.example``), comma-separated, whose pages may call the API from a
    browser; none by default."""
    auth: str = ""
    """``on``: every request needs a token (docs/tenants.md); ``off``: every request acts in
    the default tenant. Unset: off when listening on loopback only, else the start is
    refused."""
    admin_token: str = ""
    """The bootstrap admin token (any long random text); prefer PATHKV_ADMIN_TOKEN_FILE."""
    admin_token_file: str = ""
    """A file holding the bootstrap admin token (a mounted Secret)."""
    metrics_auth: bool = False
    """/-/metrics needs an admin token (with auth on)."""
    watch_heartbeat: float = 15.0
    """Seconds between the comment lines (``: ping``) of an idle /-/watch stream."""
    watch_buffer: int = 10_000
    """Changes a watcher may fall behind by before its stream is cut off (with reset)."""
    changes_max_age: float = 24 * 3600
    """Seconds the change feed keeps a change (applied at every sweep)."""
    changes_max_events: int = 1_000_000
    """Changes the feed keeps at most (applied at every sweep)."""

    @property
    def cors_origins_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``PATHKV_<FIELD>`` from env, then apply non-None overrides (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _coerce(field.name, field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("store_file"):
            if "store" in values:
                raise ConfigError(f"set {ENV_PREFIX}STORE or {ENV_PREFIX}STORE_FILE, not both")
            values["store"] = read_secret("STORE_FILE", values["store_file"])
        settings = cls(**values)
        settings.validate()
        return settings

    def to_env(self) -> dict[str, str]:
        """The settings as ``PATHKV_*`` variables, to hand to worker processes (the store
        as its URL, already read from PATHKV_STORE_FILE when that was given)."""
        return {
            ENV_PREFIX + f.name.upper(): str(getattr(self, f.name))
            for f in fields(self)
            if f.name != "store_file"
        }

    def validate(self) -> None:
        positive = (
            "port",
            "workers",
            "default_ttl",
            "max_ttl",
            "max_body_bytes",
            "max_depth",
            "max_path_bytes",
            "body_timeout",
            "header_timeout",
            "idle_timeout",
            "max_connections",
            "sqlite_busy_timeout",
            "hit_flush_interval",
            "redis_pool_size",
            "redis_connect_timeout",
            "redis_timeout",
            "redis_wait_timeout",
            "watch_heartbeat",
            "watch_buffer",
            "changes_max_age",
            "changes_max_events",
        )
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{setting_name(field.name)} must be a finite number")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{setting_name(name)} must be positive")
        for name in (
            "sweep_interval",
            "shutdown_delay",
            "redis_retries",
            "redis_wait_replicas",
            "redis_buckets",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{setting_name(name)} must not be negative")
        if self.port > 65535:
            raise ConfigError(f"{setting_name('port')} must be at most 65535")
        if self.max_ttl > LARGEST_TTL:
            # Expiry times are milliseconds in 64-bit integers (SQLite, Redis) and doubles
            # (Redis' Lua): a century is far inside both.
            raise ConfigError(f"{ENV_PREFIX}MAX_TTL must be at most {LARGEST_TTL} (100 years)")
        if self.body_budget_bytes < self.max_body_bytes:
            raise ConfigError(
                f"{ENV_PREFIX}BODY_BUDGET_BYTES must be at least {ENV_PREFIX}MAX_BODY_BYTES"
            )
        if self.default_ttl > self.max_ttl:
            raise ConfigError(f"{ENV_PREFIX}DEFAULT_TTL must not exceed {ENV_PREFIX}MAX_TTL")
        for origin in self.cors_origins_list:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ConfigError(
                    f"{ENV_PREFIX}CORS_ORIGINS: {origin!r} is not an origin such as "
                    "https://app.example or http://localhost:3000"
                )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        if self.auth.lower() not in ("", *_TRUE, *_FALSE):
            raise ConfigError(f"{ENV_PREFIX}AUTH={self.auth!r} must be on or off")
        if self.admin_token and self.admin_token_file:
            raise ConfigError(
                f"set {ENV_PREFIX}ADMIN_TOKEN or {ENV_PREFIX}ADMIN_TOKEN_FILE, not both"
            )

    def with_host(self, host: str) -> Settings:
        return dataclasses.replace(self, host=host)

    def auth_on(self) -> bool:
        """Whether requests need tokens; ConfigError when PATHKV_AUTH is unset and the server
        would listen beyond loopback (in the spirit of Redis' protected mode)."""
        choice = self.auth.lower()
        if choice in _TRUE:
            return True
        if choice in _FALSE:
            return False
        if is_loopback(self.host):
            return False
        raise ConfigError(
            f"refusing to listen on {self.host} without authentication: set "
            f"{ENV_PREFIX}AUTH=on (and an admin token), or {ENV_PREFIX}AUTH=off to serve "
            "everyone who can reach it"
        )

    def admin_secret(self) -> str | None:
        """The bootstrap admin token, from the variable or the file; None when neither."""
        if self.admin_token_file:
            return read_secret("ADMIN_TOKEN_FILE", self.admin_token_file)
        return self.admin_token.strip() or None


def read_secret(variable: str, path: str) -> str:
    """The text of a secret's file (a mounted Secret), without surrounding whitespace."""
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{ENV_PREFIX}{variable}: cannot read {path}: {reason}") from None
    if not secret:
        raise ConfigError(f"{ENV_PREFIX}{variable}: {path} is empty")
    return secret


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _coerce(name: str, kind: Any, raw: str) -> Any:
    type_name = kind if isinstance(kind, str) else kind.__name__
    if type_name == "bool":
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not true or false")
    target = {"int": int, "float": float, "str": str}[type_name]
    try:
        return target(raw)
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}"
        ) from None

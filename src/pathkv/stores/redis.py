"""The production store on Redis (6.2+, 7.x) or Valkey, through valkey-glide.

Every request is at most one round trip: a Lua script (sent by SHA, loaded on first use) or
one command. Concurrent GETs, PUTs and counter increments are batched (batching.py): the
requests of one event-loop turn share one script call, which is what makes the client's
per-call cost affordable. A batch travels as one MessagePack argument and comes back as one
MessagePack string: the client's cost grows with the number of arguments and reply
elements, hardly with their size (measured: about 30% less CPU per GET than an argument per field).

Expiry is Redis' own (PXAT on the document string); see redis_scripts.py for the key
layout and how the listing index and hit ranking are pruned.

Driver errors are translated once, in ``_call``: a timeout into StoreTimeoutError, every
other failure into StoreError.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import zlib
from typing import Any
from urllib.parse import unquote, urlsplit

import msgpack
from glide import (
    AdvancedGlideClientConfiguration,
    BackoffStrategy,
    CircuitBreakerError,
    ClientCircuitBreakerConfiguration,
    GlideClient,
    GlideClientConfiguration,
    GlideError,
    Logger,
    LogLevel,
    NodeAddress,
    Script,
    ServerCredentials,
)
from glide import TimeoutError as GlideTimeout

from pathkv.config import ConfigError, Settings
from pathkv.core.etags import Expect
from pathkv.stores import redis_scripts as lua
from pathkv.stores.batching import Batcher
from pathkv.stores.contract import (
    ConditionFailed,
    Record,
    StoreError,
    StoreTimeoutError,
    Write,
)

# The sweep walks the index in small steps with a pause between them: each step is a
# script that holds Redis, and a background sweep must not show in request latency.
SWEEP_BATCH = 200
SWEEP_PAUSE = 0.002
# Bodies from this size on are stored zlib-compressed (level 1: about 5 us per KiB here);
# JSON documents shrink to a third or half, and Redis memory is the costly resource.
COMPRESS_FROM = 256
COMPRESS_LEVEL = 1


def _config(settings: Settings) -> GlideClientConfiguration:
    parts = urlsplit(settings.store)
    try:
        port = parts.port or 6379
        database = int(parts.path.strip("/") or 0)
    except ValueError:
        raise ConfigError(f"store URL {settings.store!r}: port and database must be numbers"
                          ) from None
    if not parts.hostname:
        raise ConfigError(f"store URL {settings.store!r}: a host is required")
    credentials = None
    if parts.password is not None:
        credentials = ServerCredentials(
            password=unquote(parts.password), username=unquote(parts.username or "") or None
        )
    return GlideClientConfiguration(
        [NodeAddress(parts.hostname, port)],
        use_tls=parts.scheme == "rediss",
        credentials=credentials,
        database_id=database,
        request_timeout=int(settings.redis_timeout * 1000),
        reconnect_strategy=BackoffStrategy(
            num_of_retries=settings.redis_retries, factor=50, exponent_base=2
        ),
        advanced_config=AdvancedGlideClientConfiguration(
            connection_timeout=int(settings.redis_connect_timeout * 1000)
        ),
        client_name="pathkv",
        lazy_connect=True,
        # Fail fast while Redis is unreachable: after a few failed or timed-out calls the
        # client rejects requests at once (503) and lets one probe through every second.
        client_circuit_breaker=ClientCircuitBreakerConfiguration(
            window_size_ms=5000, failure_rate_threshold=0.5, min_errors=3,
            open_timeout_ms=1000, count_timeouts=True, consecutive_successes=1,
        ),
    )


def _condition(expect: Expect | None) -> tuple[str, list[str]]:
    """The script form of a condition: a mode and (version, digest) pairs."""
    if expect is None:
        return "", []
    if not expect.exists:
        return "absent", []
    if not expect.tags:
        return "exists", []
    return "tags", list(itertools.chain.from_iterable((str(v), d) for v, d in expect.tags))


def _value_after_version(digest: str, updated: int, expires: int, body: bytes) -> bytes:
    """The stored value but its leading version: ``:<digest>:<updated>:<expires>:<codec>:``."""
    if len(body) >= COMPRESS_FROM:
        codec, body = b"z", zlib.compress(body, COMPRESS_LEVEL)
    else:
        codec = b"-"
    return b":%s:%d:%d:%s:%s" % (digest.encode("ascii"), updated, expires, codec, body)


def _record(path: str, value: bytes, hits: bytes | str | float) -> Record:
    version, digest, updated, expires, codec, body = value.split(b":", 5)
    if codec == b"z":
        body = zlib.decompress(body)
    return Record(path, body, int(version), digest.decode("ascii"), int(updated), int(expires),
                  _hits(hits))


def _pack(values: list[Any]) -> bytes:
    """MessagePack the scripts can read: Redis' cmsgpack knows no bin type, so bytes and
    text alike travel as raw strings (Lua strings are bytes anyway)."""
    packed: bytes = msgpack.packb(values, use_bin_type=False)
    return packed


def _unpack(packed: bytes) -> Any:
    """A script's MessagePack answer; strings stay bytes (bodies may be compressed)."""
    return msgpack.unpackb(packed, raw=True)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _hits(value: bytes | str | float) -> int:
    return int(float(value))


class RedisStore:
    works_off_loop = True

    def __init__(self, config: GlideClientConfiguration, prefix: str, pool_size: int = 1) -> None:
        self._config = config
        self._doc_prefix = prefix + "d:"
        self._hits = prefix + "hits"
        self._keys = prefix + "keys"
        self._count = prefix + "count"
        self._sweep = prefix + "sweep"
        self._pool_size = pool_size
        self._clients: list[Any] = []
        self._next = itertools.cycle(range(pool_size))
        self._reads: Batcher[tuple[str, bool], Any] = Batcher(self._get_many)
        self._writes: Batcher[tuple[Write, Expect | None], Any] = Batcher(self._put_many)
        self._increments: Batcher[None, int] = Batcher(self._incr_many)
        self._scripts = {
            name: Script(getattr(lua, name))  # type: ignore[no-untyped-call]
            for name in ("GET", "PUT", "DELETE", "LIST", "TOP", "RESTORE", "SWEEP")
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisStore:
        return cls(_config(settings), settings.redis_prefix, settings.redis_pool_size)

    # lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        # The client's own log lines are not JSON; its failures reach pathkv's logs as
        # 503/504 request lines instead.
        Logger.set_logger_config(LogLevel.ERROR)
        try:
            self._clients = [await GlideClient.create(self._config)
                             for _ in range(self._pool_size)]
        except GlideError as exc:
            raise StoreError(f"cannot create Redis client: {exc}") from None
        # The clients belong to this loop, and so do the batches.
        loop = asyncio.get_running_loop()
        for batcher in (self._reads, self._writes, self._increments):
            batcher.bind(loop)

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(GlideError):
                await client.close()

    async def ping(self) -> None:
        await self._call(lambda c: c.custom_command(["PING"]))

    # helpers ---------------------------------------------------------------------------

    async def _call(self, operation: Any) -> Any:
        if not self._clients:
            raise StoreError("the Redis store is not open")
        client = self._clients[next(self._next)] if self._pool_size > 1 else self._clients[0]
        try:
            return await operation(client)
        except GlideTimeout:
            raise StoreTimeoutError("Redis did not answer in time") from None
        except CircuitBreakerError:
            raise StoreError("Redis is unreachable; retrying in the background") from None
        except (TimeoutError, GlideError, OSError) as exc:
            raise StoreError(f"Redis: {exc}") from None

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        return await self._call(lambda c: c.invoke_script(script, keys=keys, args=args))

    # contract --------------------------------------------------------------------------

    async def _put_many(self, items: list[tuple[Write, Expect | None]]) -> list[Any]:
        batch: list[Any] = []
        for write, expect in items:
            mode, tags = _condition(expect)
            rest = _value_after_version(write.digest, write.now, write.expires_at, write.body)
            batch += (write.path, rest, b"%d" % write.expires_at, mode, tags)
        flat = _unpack(
            await self._script("PUT", [self._hits, self._keys], [self._doc_prefix, _pack(batch)])
        )
        return [flat[i:i + 3] for i in range(0, len(flat), 3)]

    async def put(self, write: Write, expect: Expect | None) -> tuple[Record, bool]:
        version, hits, created = await self._writes.submit((write, expect))
        if version == 0:
            raise ConditionFailed(write.path)
        return Record(write.path, write.body, version, write.digest, write.now,
                      write.expires_at, _hits(hits)), created == 1

    async def _get_many(self, items: list[tuple[str, bool]]) -> list[Any]:
        batch = list(itertools.chain.from_iterable(items))
        flat = _unpack(await self._script("GET", [self._hits], [self._doc_prefix, _pack(batch)]))
        return [flat[i:i + 2] for i in range(0, len(flat), 2)]

    async def get(self, path: str, now: int, count_hit: bool) -> Record | None:
        value, hits = await self._reads.submit((path, count_hit))
        if value is False:
            return None
        return _record(path, value, hits)

    async def delete(self, path: str, now: int, expect: Expect | None) -> bool:
        mode, tags = _condition(expect)
        result = await self._script(
            "DELETE", [self._doc_prefix + path, self._hits, self._keys], [path, mode, *tags]
        )
        if result == -1:
            raise ConditionFailed(path)
        return bool(result == 1)

    def _range(self, prefix: str, after: str | None) -> tuple[bytes, bytes]:
        encoded = prefix.encode("utf-8")
        if after is not None and after >= prefix:
            low = b"(" + after.encode("utf-8")
        else:
            low = b"[" + encoded
        # UTF-8 never contains 0xFF, so this bounds every member that starts with prefix.
        return low, b"(" + encoded + b"\xff"

    async def keys(self, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        low, high = self._range(prefix, after)
        result = await self._script(
            "LIST", [self._keys, self._hits], [self._doc_prefix, low, high, str(limit), "0"]
        )
        return [_text(path) for path in result]

    async def records(self, after: str | None, limit: int, now: int) -> list[Record]:
        low, high = self._range("/", after)
        result = await self._script(
            "LIST", [self._keys, self._hits], [self._doc_prefix, low, high, str(limit), "1"]
        )
        return [_record(_text(path), value, hits) for path, value, hits in result]

    async def restore(self, record: Record, now: int) -> bool:
        if record.expires_at <= now:
            return False
        result = await self._script(
            "RESTORE", [self._doc_prefix + record.path, self._hits, self._keys],
            [record.path,
             str(record.version).encode("ascii") + _value_after_version(
                 record.digest, record.last_updated, record.expires_at, record.body),
             str(record.version), str(record.expires_at), str(record.hits)],
        )
        return bool(result == 1)

    async def _incr_many(self, items: list[None]) -> list[int]:
        """One INCRBY for the whole batch; each caller gets its own value of the range."""
        last = int(await self._call(lambda c: c.incrby(self._count, len(items))))
        return list(range(last - len(items) + 1, last + 1))

    async def incr_root(self) -> int:
        return await self._increments.submit(None)

    async def top_hits(self, limit: int, now: int) -> list[tuple[str, int]]:
        result = await self._script("TOP", [self._hits, self._keys],
                                    [self._doc_prefix, str(limit)])
        pairs = [(_text(result[i]), _hits(result[i + 1])) for i in range(0, len(result), 2)]
        return pairs[:limit]

    async def sweep(self, now: int, limit: int) -> int:
        """Walk the whole index once, dropping entries of documents Redis has expired."""
        removed = 0
        while removed < limit:
            step_removed, wrapped = await self._script(
                "SWEEP", [self._keys, self._hits, self._sweep],
                [self._doc_prefix, str(SWEEP_BATCH)],
            )
            removed += int(step_removed)
            if wrapped:
                break
            await asyncio.sleep(SWEEP_PAUSE)
        return removed

"""The production store on Redis (6.2+, 7.x) or Valkey, through valkey-glide.

Every request is at most one round trip: a Lua script (sent by SHA, loaded on first use) or
one command. Concurrent GETs, PUTs and counter increments are batched (batching.py): the
requests of one event-loop turn share one script call, which is what makes the client's
per-call cost affordable (tuning, measured in bench/findings.md). A batch may mix
namespaces: each of its records names its own key base.

Expiry is Redis' own (PXAT on the document string); see layout.py for the keys and
scripts.py for how the listing index and hit ranking are pruned.

Driver errors are translated once, in ``_call``: a timeout into StoreTimeoutError, every
other failure into StoreError, each with the driver's error as its cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
import zlib
from typing import Any

import msgpack
from glide import (
    AdvancedGlideClientConfiguration,
    AdvancedGlideClusterClientConfiguration,
    BackoffStrategy,
    CircuitBreakerError,
    ClientCircuitBreakerConfiguration,
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    GlideError,
    Logger,
    LogLevel,
    NodeAddress,
    PeriodicChecksManualInterval,
    Script,
    ServerCredentials,
    SlotKeyRoute,
    SlotType,
)
from glide import TimeoutError as GlideTimeout

from pathkv.core.contract import (
    ORIGIN,
    Bucket,
    Change,
    ConditionFailed,
    CursorExpired,
    Limits,
    Position,
    QuotaExceeded,
    Record,
    Store,
    StoreError,
    StoreHealth,
    StoreTimeoutError,
    Taken,
    Usage,
    Write,
)
from pathkv.core.etags import Expect
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.stores.batching import Batcher
from pathkv.stores.redis import scripts as lua
from pathkv.stores.redis.layout import (
    ACCOUNTS,
    CHANGES,
    CHANGES_FLOOR,
    GET_REPLY,
    NAMESPACES,
    OVER_BYTES,
    OVER_DOCUMENTS,
    PUT_REPLY,
    RATES,
    REFUSED,
    key_base,
)
from pathkv.stores.redis.options import RedisOptions
from pathkv.stores.redis.sentinel import ask_primary

log = logging.getLogger("pathkv")

# Tuning: the sweep walks the index in small steps with a pause between them: each step is a
# script that holds Redis, and a background sweep must not show in request latency.
SWEEP_BATCH = 200
SWEEP_PAUSE = 0.002
# Tuning: change events one TRIM call removes (it reads them, bodies too, to find the
# last one); the store calls it again until less is left.
TRIM_CHUNK = 1000
# A connection that could not be made: for this long, calls fail at once (503); then one
# call at a time probes again. The client's circuit breaker covers failures on a connection
# it has; a client that never connected (Redis down at start) would otherwise make every
# request wait out the connect timeout.
UNREACHABLE_PAUSE = 1.0
# After Redis refused a write for lack of memory, health reports it for this long.
OUT_OF_MEMORY_PAUSE = 10.0
# Tuning: bodies from this size on are stored zlib-compressed (level 1: about 5 us per KiB here);
# JSON documents shrink to a third or half, and Redis memory is the costly resource.
COMPRESS_FROM = 256
# The longest wait of the feed's reader (its client's request timeout allows for it).
FEED_WAIT_LIMIT = 5.0
COMPRESS_LEVEL = 1
# With Sentinel: the shortest time between two questions to the sentinels (they are asked
# when the primary fails a request, and with every health check).
FOLLOW_PAUSE = 0.25
# On a cluster: seconds between two checks of its topology (who serves which slots).
TOPOLOGY_CHECK = 1


def waited(options: RedisOptions) -> float:
    """What a write may wait for its replicas, on top of the request's own timeout."""
    return options.wait_timeout if options.wait_replicas else 0.0


def client_config(
    options: RedisOptions, request_timeout: float | None = None
) -> GlideClientConfiguration | GlideClusterClientConfiguration:
    credentials = None
    if options.password is not None:
        credentials = ServerCredentials(password=options.password, username=options.username)
    common: dict[str, Any] = {
        "use_tls": options.tls,
        "credentials": credentials,
        "request_timeout": int((request_timeout or options.timeout + waited(options)) * 1000),
        "reconnect_strategy": BackoffStrategy(
            num_of_retries=options.retries, factor=50, exponent_base=2
        ),
        "client_name": "pathkv",
        "lazy_connect": True,
        # Fail fast while Redis is unreachable: after a few failed or timed-out calls the
        # client rejects requests at once (503) and lets one probe through every second
        # (one server only).
        "client_circuit_breaker": ClientCircuitBreakerConfiguration(
            window_size_ms=5000,
            failure_rate_threshold=0.5,
            min_errors=3,
            open_timeout_ms=1000,
            count_timeouts=True,
            consecutive_successes=1,
        ),
    }
    connect = int(options.connect_timeout * 1000)
    if options.cluster:
        # One breaker for the whole client would shut every node out for one that failed.
        del common["client_circuit_breaker"]
        return GlideClusterClientConfiguration(
            [NodeAddress(host, port) for host, port in options.cluster],
            advanced_config=AdvancedGlideClusterClientConfiguration(connection_timeout=connect),
            # Tuning: the client asks the cluster for its slots every second (CLUSTER
            # SLOTS, one small reply) instead of every minute, so a promoted replica is
            # found about a second after the cluster has failed over.
            periodic_checks=PeriodicChecksManualInterval(duration_in_sec=TOPOLOGY_CHECK),
            **common,
        )
    return GlideClientConfiguration(
        [NodeAddress(options.host, options.port)],
        database_id=options.database,
        advanced_config=AdvancedGlideClientConfiguration(connection_timeout=connect),
        **common,
    )


async def create_client(config: GlideClientConfiguration | GlideClusterClientConfiguration) -> Any:
    """A client for one server, or for a cluster (it follows the slots and redirections)."""
    try:
        if isinstance(config, GlideClusterClientConfiguration):
            return await GlideClusterClient.create(config)
        return await GlideClient.create(config)
    except GlideError as exc:
        raise StoreError(f"cannot create Redis client: {exc}") from exc


def _condition(expect: Expect | None) -> tuple[str, list[str]]:
    """The script form of a condition: a mode and its arguments (see scripts.CONDITION)."""
    if expect is None:
        return "", []
    if not expect.exists:
        return "absent", []
    if expect.tags:
        return "tags", list(itertools.chain.from_iterable((str(v), d) for v, d in expect.tags))
    if expect.unmodified_since is not None:
        return "since", [str(expect.unmodified_since)]
    return "exists", []


def _encoded_body(body: bytes) -> bytes:
    """The stored value's tail: ``<codec>:<body>``, codec "z" for a zlib-compressed body."""
    if len(body) >= COMPRESS_FROM:
        return b"z:" + zlib.compress(body, COMPRESS_LEVEL)
    return b"-:" + body


def _stored_value(record: Record) -> bytes:
    """The whole stored value: ``<version>:<digest>:<updated>:<expires>:<codec>:<body>``."""
    return b"%d:%s:%d:%d:%s" % (
        record.version,
        record.digest.encode("ascii"),
        record.last_updated,
        record.expires_at,
        _encoded_body(record.body),
    )


def _record(path: str, value: bytes, hits: bytes | str | float) -> Record:
    version, digest, updated, expires, codec, body = value.split(b":", 5)
    if codec == b"z":
        body = zlib.decompress(body)
    return Record(
        path, body, int(version), digest.decode("ascii"), int(updated), int(expires), _hits(hits)
    )


def _position(ident: bytes | str) -> Position:
    """A stream id ("<ms>-<seq>") as a position."""
    ms, _, seq = _text(ident).partition("-")
    return (int(ms), int(seq or 0))


def _stream_id(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def _pairs(flat: list[Any]) -> list[list[Any]]:
    return [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]


def _major_version(info: str) -> int:
    """The major version in INFO server (Valkey reports a compatible redis_version)."""
    for line in info.splitlines():
        if line.startswith("redis_version:"):
            with contextlib.suppress(ValueError):
                return int(line.split(":", 1)[1].split(".", 1)[0])
    return 0


def _pack(values: list[Any]) -> bytes:
    """MessagePack the scripts can read: Redis' cmsgpack knows no bin type, so bytes and
    text alike travel as raw strings (Lua strings are bytes anyway)."""
    packed: bytes = msgpack.packb(values, use_bin_type=False)
    return packed


def _unpack(packed: bytes) -> Any:
    """A script's MessagePack answer; strings stay bytes (bodies may be compressed)."""
    return msgpack.unpackb(packed, raw=True)


def _glob_escape(text: str) -> str:
    """text matched literally in a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _hits(value: bytes | str | float) -> int:
    return int(float(value))


class RedisStore(Store):
    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self._config = client_config(options)
        self._prefix = options.prefix
        self._changes = options.prefix + CHANGES
        # On a cluster every key shares the prefix's hash tag, so one slot: commands that
        # name no key (PING, INFO, TIME, SCAN...) go to the primary that serves it.
        self._route = SlotKeyRoute(SlotType.PRIMARY, options.prefix) if options.cluster else None
        self._route_keys: list[str] = [options.prefix] if options.cluster else []
        # The feed's reader blocks (XREAD BLOCK): on a connection of its own, made on first use.
        self._feed_client: Any = None
        self._bases: dict[str, str] = {DEFAULT.name: options.prefix}
        self._pool_size = options.pool_size
        self._unreachable_until = 0.0
        self._probing = False
        # The client's own request timeout does not cover a call made while it is still
        # connecting (seen: calls pending for 9 s and more with Redis down at start).
        self._deadline = options.timeout + options.connect_timeout + waited(options)
        self._clients: list[Any] = []
        self._next = itertools.cycle(range(options.pool_size))
        self._reads: Batcher[tuple[str, str, bool], Any] = Batcher(self._get_many)
        # (key base, namespace name or "" for the default, write, condition, limits)
        self._writes: Batcher[tuple[str, str, Write, Expect | None, Limits | None], Any] = Batcher(
            self._put_many
        )
        self._increments: Batcher[str, int] = Batcher(self._incr_many)
        self._rates: Batcher[list[Bucket], Any] = Batcher(self._take_many)
        # Until the server's version is known, scripts go without a flags line (6.2 knows
        # none; 7 runs them too, with the older out-of-memory rule).
        self._use_scripts(flags=False)
        self._eviction: str | None = None  # why writes are refused (maxmemory-policy)
        self._out_of_memory_until = 0.0
        # Sentinel: the primary's address is asked, then followed (see _follow).
        self._opened = False
        # Key bases whose expiry index is complete (sweep).
        self._expiry_indexed: set[str] = set()
        self._following: asyncio.Task[None] | None = None
        self._followed_at = 0.0

    def _use_scripts(self, flags: bool) -> None:
        self._flags = flags
        self._scripts = {
            name: Script(source)  # type: ignore[no-untyped-call]
            for name, source in lua.sources(flags).items()
        }

    # lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        # The client's own log lines are not JSON; its failures reach pathkv's logs as
        # 503/504 request lines instead.
        Logger.set_logger_config(LogLevel.ERROR)
        self._opened = True
        if self.options.sentinels:
            # No primary known yet (no sentinel answered): requests answer 503 and ask again.
            with contextlib.suppress(StoreError):
                await self._follow()
        else:
            self._clients = await self._new_clients()
        # The clients belong to this loop, and so do the batches.
        loop = asyncio.get_running_loop()
        for batcher in (self._reads, self._writes, self._increments, self._rates):
            batcher.bind(loop)
        # Learn the server's version and policy now if it is there; later checks follow.
        with contextlib.suppress(StoreError, TimeoutError):
            async with asyncio.timeout(self.options.connect_timeout):
                await self.health()

    async def _new_clients(self) -> list[Any]:
        self._config = client_config(self.options)
        return [await create_client(self._config) for _ in range(self._pool_size)]

    async def _follow(self) -> None:
        """Ask the sentinels where the primary is; when it moved (a failover), connect to
        the new one and drop the old connections. Requests in flight on the old ones fail
        (503); the next ones go to the new primary."""
        self._followed_at = time.monotonic()
        options = self.options
        assert options.master is not None
        host, port = await ask_primary(options.sentinels, options.master, options.connect_timeout)
        if self._clients and (host, port) == (options.host, options.port):
            return
        self.options = dataclasses.replace(options, host=host, port=port)
        clients, self._clients = self._clients, await self._new_clients()
        feed, self._feed_client = self._feed_client, None
        self._unreachable_until = 0.0
        # A failover is worth a warning; the first answer is the start-up's news.
        (log.warning if clients else log.info)(
            "Redis primary %r is at %s:%d",
            options.master,
            host,
            port,
            extra={"moved": bool(clients)},
        )
        for client in [*clients, *([feed] if feed is not None else [])]:
            with contextlib.suppress(GlideError):
                await client.close()

    def _ask_sentinels(self) -> None:
        """Follow the primary in the background, at most every FOLLOW_PAUSE seconds."""
        if not self.options.sentinels or not self._opened:
            return
        if self._following is not None and not self._following.done():
            return
        if time.monotonic() - self._followed_at < FOLLOW_PAUSE:
            return

        async def follow() -> None:
            with contextlib.suppress(StoreError):
                await self._follow()

        self._following = asyncio.get_running_loop().create_task(follow())

    async def close(self) -> None:
        self._opened = False
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
            self._following = None
        if self._feed_client is not None:
            with contextlib.suppress(GlideError):
                await self._feed_client.close()
            self._feed_client = None
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(GlideError):
                await client.close()

    async def ping(self) -> None:
        await self._call(lambda c: self._command(c, ["PING"]))

    async def health(self) -> StoreHealth:
        """The server's version (which scripts to use) and whether its maxmemory-policy
        keeps documents; asked at start and every few seconds, so a Redis that comes back
        or is replaced (reconnect, failover) is checked again."""
        self._ask_sentinels()
        info = _text(await self._call(lambda c: self._command(c, ["INFO", "server"])))
        flags = _major_version(info) >= 7
        if flags != self._flags:
            self._use_scripts(flags)
        policy = await self._policy()
        if policy != "noeviction" and not self.options.allow_eviction:
            self._eviction = (
                f"Redis' maxmemory-policy is {policy}: it may evict stored documents; set it "
                "to noeviction, or PATHKV_REDIS_ALLOW_EVICTION=true to accept the risk"
            )
        else:
            self._eviction = None
        if self._eviction is not None:
            return StoreHealth(False, self._eviction)
        if time.monotonic() < self._out_of_memory_until:
            return StoreHealth(False, "Redis is out of memory (maxmemory): writes are refused")
        return StoreHealth()

    async def _policy(self) -> str:
        """maxmemory-policy, from CONFIG GET, or INFO where CONFIG is not allowed."""
        try:
            reply = await self._call(
                lambda c: self._command(c, ["CONFIG", "GET", "maxmemory-policy"])
            )
            if isinstance(reply, dict):
                return _text(next(iter(reply.values())))
            if isinstance(reply, list) and len(reply) == 2:
                return _text(reply[1])
        except StoreError:
            pass
        info = _text(await self._call(lambda c: self._command(c, ["INFO", "memory"])))
        for line in info.splitlines():
            if line.startswith("maxmemory_policy:"):
                return line.split(":", 1)[1].strip()
        return "unknown"

    def _check_writable(self) -> None:
        if self._eviction is not None:
            raise StoreError(self._eviction)

    # helpers ---------------------------------------------------------------------------

    async def _call(self, operation: Any) -> Any:
        if not self._clients:
            if self._opened and self.options.sentinels:
                self._ask_sentinels()
                raise StoreError("no Redis primary known yet: asking the sentinels")
            raise StoreError("the Redis store is not open")
        probe = False
        if self._unreachable_until:
            if self._probing or time.monotonic() < self._unreachable_until:
                raise StoreError("Redis is unreachable; retrying in the background")
            self._probing = probe = True
        client = self._clients[next(self._next)] if self._pool_size > 1 else self._clients[0]
        try:
            async with asyncio.timeout(self._deadline):
                result = await operation(client)
        except (GlideTimeout, TimeoutError) as exc:
            self._ask_sentinels()
            raise StoreTimeoutError("Redis did not answer in time") from exc
        except CircuitBreakerError as exc:
            self._ask_sentinels()
            raise StoreError("Redis is unreachable; retrying in the background") from exc
        except (GlideError, OSError) as exc:
            # A primary that is gone or was demoted (READONLY): where is the new one?
            self._ask_sentinels()
            text = str(exc)
            if "connect failed" in text.lower():
                self._unreachable_until = time.monotonic() + UNREACHABLE_PAUSE
            elif text.startswith("OOM") or "OOM command not allowed" in text:
                self._out_of_memory_until = time.monotonic() + OUT_OF_MEMORY_PAUSE
            raise StoreError(f"Redis: {exc}") from exc
        finally:
            if probe:
                self._probing = False
        self._unreachable_until = 0.0
        return result

    def _command(self, client: Any, command: list[Any]) -> Any:
        if self._route is None:
            return client.custom_command(command)
        return client.custom_command(command, route=self._route)

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        # A cluster client sends a script to the node of its first key: one that takes
        # none is given the prefix (its slot), which it does not read.
        keys = keys or self._route_keys
        return await self._call(lambda c: c.invoke_script(script, keys=keys, args=args))

    def _base(self, ns: Namespace) -> str:
        base = self._bases.get(ns.name)
        if base is None:
            base = self._bases[ns.name] = key_base(self._prefix, ns)
        return base

    async def _base_for_restore(self, ns: Namespace) -> str:
        """The key base, the namespace recorded (PUT records it in its script, on a create)."""
        if ns.name != DEFAULT.name:
            await self._call(lambda c: c.sadd(self._prefix + NAMESPACES, [ns.name]))
        return self._base(ns)

    # contract --------------------------------------------------------------------------

    async def _put_many(
        self, items: list[tuple[str, str, Write, Expect | None, Limits | None]]
    ) -> list[Any]:
        batch: list[Any] = []
        for base, name, write, expect, limits in items:
            mode, tags = _condition(expect)
            # Only the lifetime is sent: Redis' clock decides when it ends (see scripts.py).
            ttl = b"%d" % (write.expires_at - write.now)
            batch += (
                base,
                name,
                write.path,
                write.digest,
                ttl,
                _encoded_body(write.body),
                mode,
                tags,
            )
            if limits is None:
                batch += (len(write.body), -1, -1)
            else:
                batch += (
                    len(write.body),
                    -1 if limits.documents is None else limits.documents,
                    -1 if limits.bytes is None else limits.bytes,
                )
        namespaces = self._prefix + NAMESPACES
        return PUT_REPLY.split(
            _unpack(await self._write("PUT", [], [_pack(batch), namespaces, self._changes]))
        )

    async def _write(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """A script that writes documents. With PATHKV_REDIS_WAIT_REPLICAS, followed on the
        same connection by WAIT (one for a whole batch): a write that has not reached that
        many replicas in time is not acknowledged (503: it is on the primary, perhaps
        nowhere else, and a failover would lose it)."""
        script = self._scripts[name]
        keys = keys or self._route_keys
        wanted = self.options.wait_replicas
        if not wanted:
            return await self._call(lambda c: c.invoke_script(script, keys=keys, args=args))
        wait = ["WAIT", str(wanted), str(max(1, int(self.options.wait_timeout * 1000)))]

        async def replicated(client: Any) -> tuple[Any, int]:
            result = await client.invoke_script(script, keys=keys, args=args)
            return result, int(await self._command(client, wait))

        result, reached = await self._call(replicated)
        if reached < wanted:
            raise StoreError(
                f"the write reached {reached} of {wanted} replicas within "
                f"{self.options.wait_timeout:g} s (PATHKV_REDIS_WAIT_REPLICAS): not acknowledged"
            )
        return result

    async def put(
        self, ns: Namespace, write: Write, expect: Expect | None, limits: Limits | None = None
    ) -> tuple[Record, bool]:
        self._check_writable()
        base = self._base(ns)
        name = "" if ns.name == DEFAULT.name else ns.name
        version, hits, created, updated = await self._writes.submit(
            (base, name, write, expect, limits)
        )
        if version == 0:
            raise ConditionFailed(write.path)
        if version == OVER_DOCUMENTS:
            raise QuotaExceeded("documents")
        if version == OVER_BYTES:
            raise QuotaExceeded("bytes")
        if version == REFUSED:
            why = _text(hits)
            if "OOM" in why:
                self._out_of_memory_until = time.monotonic() + OUT_OF_MEMORY_PAUSE
            raise StoreError(f"Redis refused to store {write.path}: {why}")
        lifetime = write.expires_at - write.now
        return Record(
            write.path,
            write.body,
            version,
            write.digest,
            updated,
            updated + lifetime,
            _hits(hits),
        ), created == 1

    async def _get_many(self, items: list[tuple[str, str, bool]]) -> list[Any]:
        batch = list(itertools.chain.from_iterable(items))
        return GET_REPLY.split(_unpack(await self._script("GET", [], [_pack(batch)])))

    async def get(self, ns: Namespace, path: str, now: int, count_hit: bool) -> Record | None:
        value, hits, left = await self._reads.submit((self._base(ns), path, count_hit))
        if value is False:
            return None
        record = _record(path, value, hits)
        # The time left is Redis': on pathkv's clock the document expires now + left.
        record.expires_at = now + max(int(left), 1)
        return record

    async def delete(self, ns: Namespace, path: str, now: int, expect: Expect | None) -> bool:
        base = self._base(ns)
        mode, tags = _condition(expect)
        result = await self._write(
            "DELETE",
            [*self._document_keys(base, path), self._changes],
            [path, ns.name, mode, *tags],
        )
        if result == -1:
            raise ConditionFailed(path)
        return bool(result == 1)

    @staticmethod
    def _range(prefix: str, after: str | None, inclusive: bool = False) -> tuple[bytes, bytes]:
        encoded = prefix.encode("utf-8")
        if after is not None and after >= prefix:
            low = (b"[" if inclusive else b"(") + after.encode("utf-8")
        else:
            low = b"[" + encoded
        # UTF-8 never contains 0xFF, so this bounds every member that starts with prefix.
        return low, b"(" + encoded + b"\xff"

    async def keys(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        limit: int,
        now: int,
        inclusive: bool = False,
    ) -> list[str]:
        base = self._base(ns)
        low, high = self._range(prefix, after, inclusive)
        result = await self._script(
            "LIST",
            [*self._index_keys(base), self._changes],
            [base + "d:", low, high, str(limit), "0", ns.name],
        )
        return [_text(path) for path in result]

    async def level(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        inclusive: bool,
        limit: int,
        delimiter: str,
        now: int,
    ) -> list[tuple[str, bool]] | None:
        base = self._base(ns)
        low, high = self._range(prefix, after, inclusive)
        result = await self._script(
            "LEVEL",
            [*self._index_keys(base), self._changes],
            [base + "d:", low, high, str(limit), ns.name, prefix, delimiter],
        )
        return [(_text(name), bool(folder)) for name, folder in result]

    @staticmethod
    def _index_keys(base: str) -> list[str]:
        return [base + "keys", base + "hits", base + "sizes", base + "usage"]

    @staticmethod
    def _document_keys(base: str, path: str) -> list[str]:
        return [base + "d:" + path, base + "hits", base + "keys", base + "sizes", base + "usage"]

    async def records(self, ns: Namespace, after: str | None, limit: int, now: int) -> list[Record]:
        base = self._base(ns)
        low, high = self._range("/", after)
        result = await self._script(
            "LIST",
            [*self._index_keys(base), self._changes],
            [base + "d:", low, high, str(limit), "1", ns.name],
        )
        return [_record(_text(path), value, hits) for path, value, hits in result]

    async def restore(self, ns: Namespace, record: Record, now: int) -> bool:
        if record.expires_at <= now:
            return False
        self._check_writable()
        base = await self._base_for_restore(ns)
        result = await self._write(
            "RESTORE",
            [*self._document_keys(base, record.path), self._changes],
            [
                record.path,
                _stored_value(record),
                str(record.version),
                str(record.expires_at),
                str(record.hits),
                str(len(record.body)),
                ns.name,
            ],
        )
        return bool(result == 1)

    async def restore_many(self, items: list[tuple[Namespace, Record]], now: int) -> list[bool]:
        return list(await asyncio.gather(*(self.restore(ns, r, now) for ns, r in items)))

    async def _incr_many(self, bases: list[str]) -> list[int]:
        """One INCRBY per namespace in the batch; each caller gets its own value of the range."""
        wanted: dict[str, int] = {}
        for base in bases:
            wanted[base] = wanted.get(base, 0) + 1

        async def incr(base: str, count: int) -> int:
            return int(await self._call(lambda c: c.incrby(base + "count", count)))

        lasts = await asyncio.gather(*(incr(b, n) for b, n in wanted.items()))
        next_value = {b: last - wanted[b] + 1 for b, last in zip(wanted, lasts, strict=True)}
        values = []
        for base in bases:
            values.append(next_value[base])
            next_value[base] += 1
        return values

    async def incr_root(self, ns: Namespace, by: int = 1) -> int:
        if by:
            self._check_writable()
        if by != 1:
            base = self._base(ns)
            return int(await self._call(lambda c: c.incrby(base + "count", by)))
        return await self._increments.submit(self._base(ns))

    async def top_hits(self, ns: Namespace, limit: int, now: int) -> list[tuple[str, int]]:
        base = self._base(ns)
        result = await self._script(
            "TOP",
            [base + "hits", base + "keys", base + "sizes", base + "usage", self._changes],
            [base + "d:", str(limit), ns.name],
        )
        pairs = [(_text(result[i]), _hits(result[i + 1])) for i in range(0, len(result), 2)]
        return pairs[:limit]

    async def sweep(self, ns: Namespace, now: int, limit: int) -> int:
        """Drop the index entries of expired documents (Redis removed the documents): those
        the expiry index says are due, a cost proportional to what is removed. A keyspace
        written before that index existed is walked whole once instead, which completes it.
        """
        base = self._base(ns)
        if base not in self._expiry_indexed and await self._call(
            lambda c: c.exists([base + "indexed"])
        ):
            self._expiry_indexed.add(base)
        due = base in self._expiry_indexed
        keys = [base + "keys", base + "hits", base + "expiry" if due else base + "sweep"]
        keys += [base + "sizes", base + "usage", self._changes]
        if not due:
            keys += [base + "expiry", base + "indexed"]
        removed = 0
        while removed < limit:
            step_removed, done = await self._script(
                "SWEEP_DUE" if due else "SWEEP", keys, [base + "d:", str(SWEEP_BATCH), ns.name]
            )
            removed += int(step_removed)
            if done:
                if not due:
                    self._expiry_indexed.add(base)
                break
            await asyncio.sleep(SWEEP_PAUSE)
        return removed

    async def namespaces(self) -> list[Namespace]:
        names = await self._call(lambda c: c.smembers(self._prefix + NAMESPACES))
        found = {DEFAULT.name, *(_text(name) for name in names)}
        return [Namespace(name) for name in sorted(found)]

    # the change feed -------------------------------------------------------------------

    @staticmethod
    def _entries(flat: list[Any]) -> list[Change]:
        """The READ script's answer (id, fields, id, fields, ...; fields flat: name, value)
        as changes. The fields come in the order the scripts write them: n, e, p, then v,
        g, u, x and b where present."""
        changes = []
        for i in range(0, len(flat), 2):
            ms, _, seq = flat[i].partition(b"-")
            fields = flat[i + 1]
            change = Change(
                (int(ms), int(seq or 0)),
                fields[1].decode(),
                fields[3].decode(),
                fields[5].decode(),
            )
            if len(fields) > 6:
                change.version = int(fields[7])
                change.digest = fields[9].decode()
                change.last_updated = int(fields[11])
                change.expires_at = int(fields[13])
                if len(fields) > 14:
                    codec, _, raw = fields[15].partition(b":")
                    change.body = zlib.decompress(raw) if codec == b"z" else raw
            changes.append(change)
        return changes

    async def _read(self, after: Position, count: int) -> list[Change]:
        reply = await self._script("READ", [self._changes], [_stream_id(after), str(count)])
        return self._entries(_unpack(reply))

    async def _floor(self) -> Position:
        floor = await self._call(lambda c: c.get(self._prefix + CHANGES_FLOOR))
        return _position(floor) if floor is not None else ORIGIN

    async def changes(
        self, after: Position, limit: int, ns: Namespace | None = None
    ) -> list[Change]:
        if after < await self._floor():
            raise CursorExpired(f"changes after {_stream_id(after)} are no longer kept")
        found: list[Change] = []
        start = after
        # A namespace's changes are picked from the one stream: read on until limit of them.
        while len(found) < limit:
            step = limit if ns is None else max(limit, 500)
            batch = await self._read(start, step)
            found += [c for c in batch if ns is None or c.namespace == ns.name]
            if len(batch) < step:
                break
            start = batch[-1].position
        return found[:limit]

    async def next_changes(self, after: Position, limit: int, wait: float) -> list[Change]:
        changes = await self._read(after, limit)
        if changes or wait <= 0:
            return changes
        # Nothing yet: wait for the next entry with XREAD BLOCK, on a connection of its own
        # (a blocking command would hold up every request pipelined on a shared one).
        if self._feed_client is None:
            config = client_config(self.options, FEED_WAIT_LIMIT + self.options.timeout)
            self._feed_client = await create_client(config)
        command = [
            "XREAD",
            "COUNT",
            "1",
            "BLOCK",
            str(max(1, int(min(wait, FEED_WAIT_LIMIT) * 1000))),
            "STREAMS",
            self._changes,
            _stream_id(after),
        ]
        try:
            async with asyncio.timeout(wait + self._deadline):
                arrived = await self._command(self._feed_client, command)
        except (GlideTimeout, TimeoutError) as exc:
            raise StoreTimeoutError("Redis did not answer in time") from exc
        except (GlideError, OSError) as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return await self._read(after, limit) if arrived else []

    async def present(self) -> Position:
        reply = await self._call(
            lambda c: self._command(c, ["XREVRANGE", self._changes, "+", "-", "COUNT", "1"])
        )
        items = list(reply.keys() if isinstance(reply, dict) else (e[0] for e in reply or []))
        floor = await self._floor()
        return max(_position(items[0]), floor) if items else floor

    async def trim_changes(self, now: int, max_age_ms: int, max_events: int) -> None:
        # Redis' clock decides the age, as it does expiry.
        del now
        clock = await self._call(lambda c: self._command(c, ["TIME"]))
        oldest = int(_text(clock[0])) * 1000 + int(_text(clock[1])) // 1000 - max_age_ms
        arguments = [f"{max(oldest, 0)}-0", str(max_events), str(TRIM_CHUNK)]
        while (
            await self._script("TRIM", [self._changes, self._prefix + CHANGES_FLOOR], arguments)
            >= TRIM_CHUNK
        ):
            pass

    # tenants ---------------------------------------------------------------------------

    async def usage(self, ns: Namespace) -> Usage:
        base = self._base(ns)
        documents, used = await self._call(
            lambda c: c.hmget(base + "usage", ["documents", "bytes"])
        )
        return Usage(int(documents or 0), int(used or 0))

    async def drop(self, ns: Namespace) -> None:
        """Every key of the namespace, found with SCAN and unlinked in steps."""
        base = self._base(ns)
        if ns.name == DEFAULT.name:
            patterns = [_glob_escape(base) + "d:*"]
            named = [
                base + n
                for n in ("keys", "hits", "count", "sweep", "sizes", "usage", "expiry", "indexed")
            ]
        else:
            patterns, named = [_glob_escape(base) + "*"], []
        for pattern in patterns:
            cursor: Any = "0"
            while True:
                cursor, found = await self._call(
                    lambda c, at=cursor, p=pattern: self._command(
                        c, ["SCAN", at, "MATCH", p, "COUNT", "500"]
                    )
                )
                if found:
                    await self._call(lambda c, keys=found: self._command(c, ["UNLINK", *keys]))
                if _text(cursor) == "0":
                    break
        if named:
            await self._call(lambda c: self._command(c, ["UNLINK", *named]))
        await self._call(lambda c: c.srem(self._prefix + NAMESPACES, [ns.name]))
        self._expiry_indexed.discard(base)

    async def _take_many(self, requests: list[list[Bucket]]) -> list[Any]:
        batch = [
            [
                value
                for b in buckets
                for value in (self._prefix + RATES + b.key, b.limit, b.window_ms)
            ]
            for buckets in requests
        ]
        replies: list[Any] = _unpack(await self._script("RATE", [], [_pack(batch)]))
        return replies

    async def take(self, buckets: list[Bucket], now: int) -> Taken:
        reply = await self._rates.submit(buckets)
        return Taken(
            reply[0] == 1,
            tuple(max(0, int(v)) for v in reply[1::2]),
            tuple(int(v) for v in reply[2::2]),
        )

    async def account_get(self, kind: str, key: str) -> bytes | None:
        value = await self._call(lambda c: c.hget(self._prefix + ACCOUNTS + kind, key))
        return None if value is None else bytes(value)

    async def account_put(self, kind: str, key: str, value: bytes) -> bool:
        added = await self._call(lambda c: c.hset(self._prefix + ACCOUNTS + kind, {key: value}))
        return bool(added)

    async def account_delete(self, kind: str, key: str) -> bool:
        removed = await self._call(lambda c: c.hdel(self._prefix + ACCOUNTS + kind, [key]))
        return bool(removed)

    async def account_list(self, kind: str) -> list[tuple[str, bytes]]:
        found = await self._call(lambda c: c.hgetall(self._prefix + ACCOUNTS + kind))
        return sorted((_text(k), bytes(v)) for k, v in found.items())

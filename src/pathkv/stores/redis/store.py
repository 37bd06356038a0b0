"""The production store on Redis (6.2+, 7.x) or Valkey, through valkey-glide.

Every request is at most one round trip: a Lua script (sent by SHA, loaded on first use) or
one command. Concurrent GETs, PUTs and counter increments are batched (batching.py): the
requests of one event-loop turn share one script call, which is what makes the client's
per-call cost affordable (tuning, measured in bench/findings.md). Batches are per bucket
(layout.py), so each is one script call on the node that serves the bucket, and the
batches of different buckets travel in parallel; a batch may mix namespaces: each of its
records names its own key base.

What spans buckets (listing, the hit ranking, export, sweep, usage, the change feed) asks
every bucket, in one pipeline per node, and merges the answers: a listing page is the first
``limit`` of the buckets' pages, each sorted, after the same cursor (a path), so cursors
stay what they were; each bucket is asked for a share of the page, and again where needed.

Expiry is Redis' own (PXAT on the document string); see layout.py for the keys and
scripts.py for how the listing index and hit ranking are pruned.

Driver errors are translated once, in ``_call``: a timeout into StoreTimeoutError, every
other failure into StoreError, each with the driver's error as its cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import heapq
import itertools
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import msgpack
from glide import (
    AdvancedGlideClientConfiguration,
    AdvancedGlideClusterClientConfiguration,
    AllPrimaries,
    BackoffStrategy,
    Batch,
    CircuitBreakerError,
    ClientCircuitBreakerConfiguration,
    ClusterBatch,
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    GlideError,
    Logger,
    LogLevel,
    NodeAddress,
    PeriodicChecksManualInterval,
    RequestError,
    Script,
    ServerCredentials,
    SlotKeyRoute,
    SlotType,
)
from glide import TimeoutError as GlideTimeout

from pathkv.aio import LoopBound
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
from pathkv.core.paths import past_prefix
from pathkv.stores.batching import Batcher
from pathkv.stores.redis import scripts as lua
from pathkv.stores.redis.layout import (
    ACCOUNTS,
    CHANGES,
    CHANGES_FLOOR,
    GET_REPLY,
    LAYOUT,
    LEGACY,
    NAMED,
    NAMESPACES,
    OVER_BYTES,
    OVER_DOCUMENTS,
    PUT_REPLY,
    RATES,
    REFUSED,
    Layout,
)
from pathkv.stores.redis.options import RedisOptions
from pathkv.stores.redis.sentinel import ask_primary

log = logging.getLogger("pathkv")
T = TypeVar("T")

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


# A write waiting in a bucket's batch: key base, namespace name ("" for the default), the
# write, its condition, the namespace's limits, its usage in the other buckets.
PendingWrite = tuple[str, str, Write, Expect | None, Limits | None, tuple[int, int]]


@dataclasses.dataclass
class KnownUsage:
    """A namespace's documents and bytes in each bucket, as last reported to this worker."""

    buckets: list[tuple[int, int]]
    read_at: float = float("-inf")


# Tuning: with several buckets, how long a namespace's usage as read from the buckets
# stands for the quota check of its writes (a worker keeps its own writes' effect exact;
# other workers' writes are seen within this time).
USAGE_REFRESH = 1.0
# Tuning: with several change streams there is no one stream to block on: the reader asks
# every bucket again after this pause (the feed's latency with several buckets).
FEED_POLL = 0.01
# The longest present() waits for every bucket's clock to pass the feed's last change.
SETTLE_LIMIT = 0.05
# The highest sequence number a stream id may carry (Redis: 64 bits).
LAST_SEQUENCE = (1 << 64) - 1
# What a Redis Cluster node answers while a slot's keys move to another node one by one
# (resharding): TRYAGAIN when a script's declared keys are split between the two nodes, and
# an error from inside a script that reached for a key the node no longer holds. Neither
# did anything that may not be done again: Redis checks a script's declared keys before it
# runs, a document script declares every key it touches, and on a cluster a walk changes
# nothing on the strength of a document missing before its time (scripts.py). And the
# redirections the client hands back from a batch instead of following them (MOVED, ASK:
# the script did not run), and a primary that joined the cluster lacks the scripts until
# the client, which learns the topology every second, loads them there (NOSCRIPT). Such a
# call is made again, with a growing pause, for up to MOVING_LIMIT seconds.
SLOT_MOVING = ("tryagain", "non local key", "noscript", "moved:", "ask:")  # lowered
MOVING_PAUSE = 0.005
# Tuning: how long a request waits for a slot's move to end. A script that creates a
# document is refused (TRYAGAIN) until every key of its bucket is on one node, and
# redis-cli's reshard moves a bucket of 100,000 documents in a few seconds.
MOVING_LIMIT = 5.0


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


def _stream_id(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def _name(entry: Any) -> bytes | str:
    """The path or folder a listing script's entry is about (itself, or its first field)."""
    return entry if isinstance(entry, bytes | str) else entry[0]


def _distinct(entries: Iterator[Any]) -> Iterator[Any]:
    """Entries without the repeats of the one before (a folder seen in several buckets)."""
    last = None
    for entry in entries:
        name = _name(entry)
        if name != last:
            yield entry
        last = name


def _touched(
    first: list[str], documents: Iterable[tuple[str, str]], named: tuple[str, ...]
) -> list[str]:
    """Every key a batch script touches (KEYS on a cluster, where Redis checks them before
    the script runs: while a slot moves, a script whose keys are split between two nodes is
    refused whole, never run halfway): first, then per document its string and the keys
    named of its key base.
    Tuning: only on a cluster; one Redis needs no such check, and the client's cost is per
    argument (bench/findings.md item 9)."""
    keys = dict.fromkeys(first)
    for base, path in documents:
        keys[base + "d:" + path] = None
        for name in named:
            keys[base + name] = None
    return list(keys)


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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _hits(value: bytes | str | float) -> int:
    return int(float(value))


class RedisStore(Store):
    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self._config = client_config(options)
        self._layout = layout = Layout(options.prefix, options.buckets, bool(options.cluster))
        self._home = layout.home
        self._buckets = range(layout.buckets)
        # Per bucket: the key a script that takes no other is sent with (its slot), the
        # change stream and its floor, the set of namespaces.
        self._roots = layout.roots
        self._feeds = [root + CHANGES for root in layout.roots]
        self._floors = [root + CHANGES_FLOOR for root in layout.roots]
        self._namespace_sets = [root + NAMESPACES for root in layout.roots]
        # Change ids: Redis' own (ms) with one stream, microseconds with several (scripts.py).
        self._micro = "u" if layout.buckets > 1 else ""
        # Commands that name no key (PING, INFO, CONFIG) go to the primary of the home slot.
        self._route = SlotKeyRoute(SlotType.PRIMARY, layout.home) if options.cluster else None
        # The feed's reader blocks (XREAD BLOCK): on a connection of its own, made on first use.
        self._feed_client: Any = None
        # The layout the keyspace was found to have, once checked (open, health).
        self._layout_checked = False
        self._layout_problem: str | None = None
        # With several buckets, what a namespace holds in each (for quotas), as last read:
        # namespace -> (when read, [(documents, bytes) per bucket]).
        self._usages: dict[str, KnownUsage] = {}
        self._usage_locks: dict[str, asyncio.Lock] = {}
        self._in_order = [asyncio.Lock() for _ in self._buckets]
        # Per namespace and bucket, the documents and bytes this worker's writes under
        # limits may add there, until they are answered.
        self._in_flight: dict[str, list[list[int]]] = {}
        self._pool_size = options.pool_size
        self._unreachable_until = 0.0
        self._probing = False
        # The client's own request timeout does not cover a call made while it is still
        # connecting (seen: calls pending for 9 s and more with Redis down at start).
        self._deadline = options.timeout + options.connect_timeout + waited(options)
        self._clients: list[Any] = []
        self._next = itertools.cycle(range(options.pool_size))
        # One batcher per bucket for reads, writes and rate limits.
        self._reads: list[Batcher[tuple[str, str, bool], Any]] = [
            Batcher(functools.partial(self._get_many, b)) for b in self._buckets
        ]
        self._writes: list[Batcher[PendingWrite, Any]] = [
            Batcher(functools.partial(self._put_many, b)) for b in self._buckets
        ]
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
        self._sources = lua.sources(flags, bool(self.options.cluster))
        self._scripts = {
            name: Script(source)  # type: ignore[no-untyped-call]
            for name, source in self._sources.items()
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
        batchers: list[LoopBound] = [*self._reads, *self._writes, self._increments, self._rates]
        for batcher in batchers:
            batcher.bind(loop)
        # Learn the server's version and policy now if it is there; later checks follow.
        with contextlib.suppress(StoreError, TimeoutError):
            async with asyncio.timeout(self.options.connect_timeout):
                await self.health()
        if self._layout_problem is not None:
            raise StoreError(self._layout_problem)

    async def _check_layout(self) -> None:
        """Record the layout in a new keyspace; refuse one made with another (a keyspace
        without a record is of the one-bucket layout when it holds anything)."""
        key = self._home + LAYOUT
        wanted = self._layout.record
        found = await self._call(lambda c: c.get(key))
        if found is None:
            legacy = self._layout.buckets > 1 and await self._call(
                lambda c: c.exists([self._home + name for name in LEGACY])
            )
            if legacy:
                found = "buckets=1"
            else:
                await self._call(lambda c: self._command(c, ["SET", key, wanted, "NX"]))
                found = await self._call(lambda c: c.get(key))
        found = _text(found) if found is not None else wanted
        self._layout_checked = True
        self._layout_problem = self._layout.mismatch(self.options.prefix, found)

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
        if not self._layout_checked:
            await self._check_layout()
        if self._layout_problem is not None:
            return StoreHealth(False, self._layout_problem)
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
        if not self.options.cluster:
            return await self._call_once(operation)
        return await self._while_moving(lambda: self._call_once(operation))

    async def _while_moving(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """attempt(), made again while the cluster answers that its slot is moving."""
        pause, until = MOVING_PAUSE, time.monotonic() + MOVING_LIMIT
        while True:
            try:
                return await attempt()
            except StoreError as exc:
                if time.monotonic() > until or not any(m in str(exc).lower() for m in SLOT_MOVING):
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def _call_once(self, operation: Any) -> Any:
        if self._layout_problem is not None:
            raise StoreError(self._layout_problem)
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
        """A script; a cluster client sends it to the node of its first key, as a batch of
        one: the client then hands back a TRYAGAIN at once, where for a single call it
        would wait 1.28 s before asking again itself (longer than PATHKV_REDIS_TIMEOUT's
        default), and _while_moving asks again within milliseconds."""
        if self.options.cluster:
            return (await self._script_in_buckets(name, [(keys, args)]))[0]
        script = self._scripts[name]
        return await self._call(lambda c: c.invoke_script(script, keys=keys, args=args))

    def _where(self, ns: Namespace, path: str) -> tuple[int, str]:
        """A document's bucket and its namespace's key base there."""
        bucket = self._layout.bucket(ns, path)
        return bucket, self._layout.base(ns, bucket)

    async def _script_in_buckets(
        self, name: str, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """One script run in several buckets (each call its keys and arguments), in one
        batch: the client sends one pipeline to each node, not a request per bucket.
        Tuning: about half the client's CPU of as many separate calls (measured: 16 calls
        1.5 ms, one batch of 16 0.66 ms), which is what a merged page costs."""
        if not self.options.cluster:
            if len(calls) == 1:
                return [await self._script(name, *calls[0])]
            return await self._scripts_once(name, calls)
        return await self._while_moving(lambda: self._scripts_once(name, calls))

    async def _scripts_once(self, name: str, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        return list(await self._call_once(lambda c: self._run_scripts(c, name, calls)))

    async def _run_scripts(
        self, client: Any, name: str, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """The script once per call, in one batch on one client (its connections)."""
        sha = self._scripts[name].get_hash()
        cluster = bool(self.options.cluster)

        def batch() -> Batch | ClusterBatch:
            built = ClusterBatch(is_atomic=False) if cluster else Batch(is_atomic=False)
            for keys, args in calls:
                built.custom_command(["EVALSHA", sha, str(len(keys)), *keys, *args])
            return built

        for _ in range(2):
            results = await client.exec(batch(), raise_on_error=False)
            failed = [r for r in results if isinstance(r, RequestError)]
            if not any("NoScript" in str(r) or "NOSCRIPT" in str(r) for r in failed):
                break
            # Not loaded yet on some node (a batch sends the hash only): load it everywhere.
            await self._load(name, client)
        if failed:
            text = str(failed[0])
            if "OOM" in text:
                self._out_of_memory_until = time.monotonic() + OUT_OF_MEMORY_PAUSE
            raise StoreError(f"Redis: {text}") from failed[0]
        return list(results)

    def _load(self, name: str, client: Any) -> Any:
        """SCRIPT LOAD of one script, on every primary of a cluster."""
        load = ["SCRIPT", "LOAD", self._sources[name]]
        if self.options.cluster:
            return client.custom_command(load, route=AllPrimaries())
        return client.custom_command(load)

    def _share(self, limit: int) -> int:
        """What each bucket is asked for first, of a merged page of limit entries. Tuning:
        twice a bucket's fair share, so most pages need one round."""
        buckets = len(self._buckets)
        return limit if buckets == 1 else min(limit, 2 * -(-limit // buckets) + 1)

    async def _each_bucket(self, ask: Callable[[int], Awaitable[T]]) -> list[T]:
        """ask(bucket) of every bucket, in parallel (each on its own node)."""
        if len(self._buckets) == 1:
            return [await ask(0)]
        return list(await asyncio.gather(*(ask(b) for b in self._buckets)))

    # contract --------------------------------------------------------------------------

    async def _put_many(self, bucket: int, items: list[PendingWrite]) -> list[Any]:
        batch: list[Any] = []
        for base, name, write, expect, limits, others in items:
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
                batch += (len(write.body), -1, -1, 0, 0)
            else:
                batch += (
                    len(write.body),
                    -1 if limits.documents is None else limits.documents,
                    -1 if limits.bytes is None else limits.bytes,
                    *others,
                )
        keys = [self._namespace_sets[bucket], self._feeds[bucket]]
        if self.options.cluster:
            touched = ((item[0], item[2].path) for item in items)
            keys = _touched(keys, touched, ("hits", "keys", "expiry", "sizes", "usage"))
        if len(self._buckets) > 1 and any(item[4] is not None for item in items):
            # Writes under limits run in the order they were counted (_put_counted): one
            # such batch at a time per bucket (a script reloaded after NOSCRIPT, or another
            # connection of the pool, could otherwise run a later batch first).
            async with self._in_order[bucket]:
                reply = await self._write("PUT", keys, [_pack(batch), self._micro])
        else:
            reply = await self._write("PUT", keys, [_pack(batch), self._micro])
        return PUT_REPLY.split(_unpack(reply))

    async def _write(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """A script that writes documents. With PATHKV_REDIS_WAIT_REPLICAS, followed on the
        same connection by WAIT (one for a whole batch): a write that has not reached that
        many replicas in time is not acknowledged (503: it is on the primary, perhaps
        nowhere else, and a failover would lose it)."""
        script = self._scripts[name]
        wanted = self.options.wait_replicas
        if not wanted:
            return await self._script(name, keys, args)
        wait = ["WAIT", str(wanted), str(max(1, int(self.options.wait_timeout * 1000)))]
        # On a cluster, to the primary that took the write (the script as a batch of one,
        # as _script sends it there; WAIT then on the same client, so the same connection).
        route = SlotKeyRoute(SlotType.PRIMARY, keys[0]) if self.options.cluster else None

        async def replicated(client: Any) -> tuple[Any, int]:
            if route is None:
                result = await client.invoke_script(script, keys=keys, args=args)
                return result, int(await client.custom_command(wait))
            [result] = await self._run_scripts(client, name, [(keys, args)])
            return result, int(await client.custom_command(wait, route=route))

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
        bucket, base = self._where(ns, write.path)
        name = "" if ns.name == DEFAULT.name else ns.name
        if limits is None or len(self._buckets) == 1:
            reply = await self._writes[bucket].submit((base, name, write, expect, limits, (0, 0)))
        else:
            reply = await self._put_counted(ns, bucket, (base, name, write, expect, limits))
        version, hits, created, updated = reply[:4]
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

    async def _put_counted(
        self, ns: Namespace, bucket: int, write: tuple[str, str, Write, Expect | None, Limits]
    ) -> list[Any]:
        """A write under limits with several buckets. Its script sees its own bucket's
        usage; the rest of the namespace's is what the other buckets last reported (read
        again after USAGE_REFRESH) plus this worker's writes in flight there, each counted
        as if it created its document. So one worker never passes a limit; several may, by
        what the others wrote within USAGE_REFRESH."""
        name = ns.name
        known = self._usages.get(name)
        if known is None or time.monotonic() - known.read_at > USAGE_REFRESH:
            lock = self._usage_locks.setdefault(name, asyncio.Lock())
            async with lock:
                known = self._usages.get(name)
                if known is None:
                    known = self._usages[name] = KnownUsage([(0, 0)] * len(self._buckets))
                if time.monotonic() - known.read_at > USAGE_REFRESH:
                    await self._read_usage(ns, known)
        per_bucket = known.buckets
        pending = self._in_flight.setdefault(name, [[0, 0] for _ in self._buckets])
        documents = used = 0
        for other in self._buckets:
            if other != bucket:
                documents += per_bucket[other][0] + pending[other][0]
                used += per_bucket[other][1] + pending[other][1]
        size = len(write[2].body)
        pending[bucket][0] += 1
        pending[bucket][1] += size
        try:
            reply = await self._writes[bucket].submit((*write, (documents, used)))
        finally:
            pending[bucket][0] -= 1
            pending[bucket][1] -= size
        if reply[0] not in (0, REFUSED) and self._usages.get(name) is known:
            # The writes of one batch resume in no set order: keep the highest report.
            known_documents, known_bytes = per_bucket[bucket]
            per_bucket[bucket] = (
                max(known_documents, int(reply[4])),
                max(known_bytes, int(reply[5])),
            )
        return list(reply)

    def _forget_usage(self, ns: Namespace) -> None:
        """After what lowers usage without reporting it (deletes, sweeps, drops)."""
        self._usages.pop(ns.name, None)

    async def _read_usage(self, ns: Namespace, known: KnownUsage) -> None:
        """Each bucket's usage, written into known as its answer arrives: a write's answer
        from the same bucket (the same node, the same connection) lands before it when
        the read counted that write, after it when it did not, so neither is lost."""
        started = time.monotonic()

        async def read(bucket: int) -> None:
            key = self._layout.base(ns, bucket) + "usage"
            documents, used = await self._call(lambda c: c.hmget(key, ["documents", "bytes"]))
            known.buckets[bucket] = (int(documents or 0), int(used or 0))

        await self._each_bucket(read)
        known.read_at = started

    async def _get_many(self, bucket: int, items: list[tuple[str, str, bool]]) -> list[Any]:
        batch = list(itertools.chain.from_iterable(items))
        keys = [self._roots[bucket]]
        if self.options.cluster:
            keys = _touched(keys, ((base, path) for base, path, _ in items), ("hits",))
        reply = await self._script("GET", keys, [_pack(batch)])
        return GET_REPLY.split(_unpack(reply))

    async def get(self, ns: Namespace, path: str, now: int, count_hit: bool) -> Record | None:
        bucket, base = self._where(ns, path)
        value, hits, left = await self._reads[bucket].submit((base, path, count_hit))
        if value is False:
            return None
        record = _record(path, value, hits)
        # The time left is Redis': on pathkv's clock the document expires now + left.
        record.expires_at = now + max(int(left), 1)
        return record

    async def delete(self, ns: Namespace, path: str, now: int, expect: Expect | None) -> bool:
        bucket, base = self._where(ns, path)
        mode, tags = _condition(expect)
        result = await self._write(
            "DELETE",
            self._document_keys(base, path, bucket),
            [path, ns.name, self._micro, mode, *tags],
        )
        if result == -1:
            raise ConditionFailed(path)
        if result == 1:
            self._forget_usage(ns)
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

    async def _listed(
        self,
        ns: Namespace,
        name: str,
        after: str | None,
        inclusive: bool,
        limit: int,
        args: list[Any],
        prefix: str,
        dedupe: bool = False,
    ) -> list[Any]:
        """The first limit entries after a cursor of a listing script (LIST or LEVEL) run
        in every bucket, merged by path (each bucket's answer is sorted). Each bucket is
        asked for a share of the page first, and only those that may hold more of it are
        asked again, after their last entry: a page reads about twice its size, not one
        page per bucket."""
        buckets = len(self._buckets)

        def call(
            bucket: int, after: str | None, inclusive: bool, count: int
        ) -> tuple[list[str], list[Any]]:
            base = self._layout.base(ns, bucket)
            keys = self._index_keys(base, bucket)
            low, high = self._range(prefix, after, inclusive)
            return keys, [base + "d:", low, high, str(count), *args, self._micro]

        if buckets == 1:
            found: list[Any] = await self._script(name, *call(0, after, inclusive, limit))
            return found
        count = [self._share(limit)] * buckets
        pages = await self._script_in_buckets(
            name, [call(b, after, inclusive, count[b]) for b in self._buckets]
        )
        more = [len(page) == count[b] for b, page in enumerate(pages)]
        while True:
            merged = heapq.merge(*pages, key=lambda entry: _text(_name(entry)))
            found = list(itertools.islice(_distinct(merged) if dedupe else merged, limit))
            # A bucket that may hold more is asked again unless all of it lies past the page.
            wanted = [
                b
                for b in self._buckets
                if more[b]
                and (len(found) < limit or _text(_name(pages[b][-1])) < _text(_name(found[-1])))
            ]
            if not wanted:
                return found

            calls = []
            for b in list(wanted):
                last = pages[b][-1]
                folder = dedupe and bool(last[1])
                resume = past_prefix(_text(last[0])) if folder else _text(_name(last))
                count[b] *= 2
                if resume is None:  # past the last folder there can be nothing
                    more[b] = False
                    wanted.remove(b)
                else:
                    calls.append(call(b, resume, folder, count[b]))
            for b, extra in zip(wanted, await self._script_in_buckets(name, calls), strict=True):
                pages[b] = pages[b] + extra
                more[b] = len(extra) == count[b]

    async def keys(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        limit: int,
        now: int,
        inclusive: bool = False,
    ) -> list[str]:
        found = await self._listed(ns, "LIST", after, inclusive, limit, ["0", ns.name], prefix)
        return [_text(path) for path in found]

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
        # A folder may hold documents of several buckets: it is one entry (dedupe).
        found = await self._listed(
            ns, "LEVEL", after, inclusive, limit, [ns.name, prefix, delimiter], prefix, True
        )
        return [(_text(name), bool(folder)) for name, folder in found]

    def _index_keys(self, base: str, bucket: int) -> list[str]:
        """KEYS of LIST and LEVEL: the index, then the bucket's feed, then what the script
        reaches from them (the expiry index, beside the index)."""
        keys = [base + "keys", base + "hits", base + "sizes", base + "usage"]
        return [*keys, self._feeds[bucket], base + "expiry"]

    def _document_keys(self, base: str, path: str, bucket: int) -> list[str]:
        """KEYS of DELETE and RESTORE: the document and its index entries, the bucket's
        feed, then what the script reaches from them (the expiry index)."""
        keys = [base + "d:" + path, base + "hits", base + "keys", base + "sizes", base + "usage"]
        return [*keys, self._feeds[bucket], base + "expiry"]

    async def records(self, ns: Namespace, after: str | None, limit: int, now: int) -> list[Record]:
        found = await self._listed(ns, "LIST", after, False, limit, ["1", ns.name], "/")
        return [_record(_text(path), value, hits) for path, value, hits in found]

    async def restore(self, ns: Namespace, record: Record, now: int) -> bool:
        if record.expires_at <= now:
            return False
        self._check_writable()
        bucket, base = self._where(ns, record.path)
        if ns.name != DEFAULT.name:
            # PUT records a namespace in its script, on a create; a restore does it here.
            await self._call(lambda c: c.sadd(self._namespace_sets[bucket], [ns.name]))
        result = await self._write(
            "RESTORE",
            self._document_keys(base, record.path, bucket),
            [
                record.path,
                _stored_value(record),
                str(record.version),
                str(record.expires_at),
                str(record.hits),
                str(len(record.body)),
                ns.name,
                self._micro,
            ],
        )
        self._forget_usage(ns)
        return bool(result == 1)

    async def restore_many(self, items: list[tuple[Namespace, Record]], now: int) -> list[bool]:
        return list(await asyncio.gather(*(self.restore(ns, r, now) for ns, r in items)))

    async def _incr_many(self, counters: list[str]) -> list[int]:
        """One INCRBY per namespace in the batch; each caller gets its own value of the range.

        A namespace's counter is one key, not shards summed: a worker sends it one INCRBY
        per turn of its event loop, whatever the number of requests, and a single key takes
        far more INCRBYs a second than that; shards would cost every GET / a read of all of
        them and could not hand each caller a value of its own."""
        wanted: dict[str, int] = {}
        for key in counters:
            wanted[key] = wanted.get(key, 0) + 1

        async def incr(key: str, count: int) -> int:
            return int(await self._call(lambda c: c.incrby(key, count)))

        lasts = await asyncio.gather(*(incr(k, n) for k, n in wanted.items()))
        next_value = {k: last - wanted[k] + 1 for k, last in zip(wanted, lasts, strict=True)}
        values = []
        for key in counters:
            values.append(next_value[key])
            next_value[key] += 1
        return values

    async def incr_root(self, ns: Namespace, by: int = 1) -> int:
        if by:
            self._check_writable()
        key = self._layout.counter(ns)
        if by != 1:
            return int(await self._call(lambda c: c.incrby(key, by)))
        return await self._increments.submit(key)

    async def top_hits(self, ns: Namespace, limit: int, now: int) -> list[tuple[str, int]]:
        """The highest counts: each bucket's ranking (by hits, then by path, both
        descending: the sorted set read from its end) merged in that order. As for a
        listing, each bucket is asked for a share first, and again, for twice as many,
        where its ranking may go on above the last of the merged page."""

        def call(bucket: int, count: int) -> tuple[list[str], list[Any]]:
            base = self._layout.base(ns, bucket)
            keys = [base + "hits", base + "keys", base + "sizes", base + "usage"]
            keys += [self._feeds[bucket], base + "expiry"]
            return keys, [base + "d:", str(count), ns.name, self._micro]

        async def ask(buckets: list[int]) -> list[list[tuple[str, int]]]:
            replies = await self._script_in_buckets("TOP", [call(b, count[b]) for b in buckets])
            return [
                [(_text(r[i]), _hits(r[i + 1])) for i in range(0, len(r), 2)][: count[b]]
                for b, r in zip(buckets, replies, strict=True)
            ]

        count = [self._share(limit)] * len(self._buckets)
        rankings = await ask(list(self._buckets))
        if len(rankings) == 1:
            return rankings[0]

        def rank(pair: tuple[str, int]) -> tuple[int, str]:
            return pair[1], pair[0]

        while True:
            merged = sorted(itertools.chain(*rankings), key=rank, reverse=True)[:limit]
            wanted = [
                b
                for b in self._buckets
                if len(rankings[b]) == count[b]
                and (len(merged) < limit or rank(rankings[b][-1]) > rank(merged[-1]))
            ]
            if not wanted:
                return merged
            for b in wanted:
                count[b] *= 2
            for b, ranking in zip(wanted, await ask(wanted), strict=True):
                rankings[b] = ranking

    async def sweep(self, ns: Namespace, now: int, limit: int) -> int:
        """Drop the index entries of expired documents (Redis removed the documents): those
        the expiry index says are due, a cost proportional to what is removed. A keyspace
        written before that index existed is walked whole once instead, which completes it.
        Bucket by bucket, up to limit in all."""
        removed = 0
        for bucket in self._buckets:
            removed += await self._sweep_bucket(ns, bucket, limit - removed)
            if removed >= limit:
                break
        if removed:
            self._forget_usage(ns)
        return removed

    async def _sweep_bucket(self, ns: Namespace, bucket: int, limit: int) -> int:
        base = self._layout.base(ns, bucket)
        if base not in self._expiry_indexed and (
            len(self._buckets) > 1 or await self._call(lambda c: c.exists([base + "indexed"]))
        ):
            # With several buckets the keyspace is newer than the expiry index.
            self._expiry_indexed.add(base)
        due = base in self._expiry_indexed
        keys = [base + "keys", base + "hits", base + "expiry" if due else base + "sweep"]
        keys += [base + "sizes", base + "usage", self._feeds[bucket]]
        if not due:
            keys += [base + "expiry", base + "indexed"]
        removed = 0
        while removed < limit:
            step_removed, done = await self._script(
                "SWEEP_DUE" if due else "SWEEP",
                keys,
                [base + "d:", str(SWEEP_BATCH), ns.name, self._micro],
            )
            removed += int(step_removed)
            if done:
                if not due:
                    self._expiry_indexed.add(base)
                break
            await asyncio.sleep(SWEEP_PAUSE)
        return removed

    async def namespaces(self) -> list[Namespace]:
        async def names(bucket: int) -> Any:
            key = self._namespace_sets[bucket]
            return await self._call(lambda c: c.smembers(key))

        found = {DEFAULT.name}
        for members in await self._each_bucket(names):
            found.update(_text(name) for name in members)
        return [Namespace(name) for name in sorted(found)]

    # the change feed -------------------------------------------------------------------
    #
    # A stream per bucket. A change's position is its id in its stream with the bucket
    # folded into the sequence number: (time, sequence * buckets + bucket), so positions
    # are unique, ordered as the ids of each stream, and across streams by time (with one
    # bucket, the stream's own id). A merged read delivers a change only once every
    # bucket's stream is known up to its position: the streams were read up to their
    # clock's time, and later changes will carry a later one.

    def _position(self, ident: bytes | str, bucket: int) -> Position:
        first, _, seq = _text(ident).partition("-")
        return (int(first), int(seq or 0) * len(self._buckets) + bucket)

    def _next_id(self, position: Position, bucket: int) -> str:
        """The first id of a bucket's stream after a position (where its changes after the
        position are read from, and what trimming up to the position keeps)."""
        buckets = len(self._buckets)
        first, sequence = position
        own, seq = sequence % buckets, sequence // buckets
        return f"{first}-{min(seq + 1 if bucket <= own else seq, LAST_SEQUENCE)}"

    def _entries(self, flat: list[Any], bucket: int) -> list[Change]:
        """The READ script's entries (id, fields, id, fields, ...; fields flat: name,
        value) as changes. The fields come in the order the scripts write them: n, e, p,
        then v, g, u, x and b where present."""
        changes = []
        for i in range(0, len(flat), 2):
            fields = flat[i + 1]
            change = Change(
                self._position(flat[i], bucket),
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
        """The first count changes after a position, merged over the buckets."""

        calls = [
            ([self._feeds[b]], [self._next_id(after, b), str(count), self._micro])
            for b in self._buckets
        ]
        replies = []
        for bucket, reply in enumerate(await self._script_in_buckets("READ", calls)):
            flat = _unpack(reply)
            replies.append((int(flat[0]), self._entries(flat[1:], bucket)))
        if len(replies) == 1:
            return replies[0][1]
        known: Position | None = None  # every change before this one has been read
        for clock, entries in replies:
            if len(entries) == count:
                last = entries[-1].position
                upto = (last[0], last[1] + 1)
            else:
                upto = (clock, 0)
            known = upto if known is None else min(known, upto)
        merged = heapq.merge(*(entries for _, entries in replies), key=lambda c: c.position)
        return [c for c in itertools.islice(merged, count) if known is None or c.position < known]

    async def _floor(self) -> Position:
        """The last position the feed forgot (trimmed), over every bucket."""

        async def floor(bucket: int) -> Position:
            key = self._floors[bucket]
            found = await self._call(lambda c: c.get(key))
            return self._position(found, bucket) if found is not None else ORIGIN

        return max(await self._each_bucket(floor))

    async def changes(
        self, after: Position, limit: int, ns: Namespace | None = None
    ) -> list[Change]:
        if after < await self._floor():
            raise CursorExpired(f"changes after {_stream_id(after)} are no longer kept")
        found: list[Change] = []
        start = after
        # A namespace's changes are picked from the streams: read on until limit of them.
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
        wait = min(wait, FEED_WAIT_LIMIT)
        if len(self._buckets) > 1:
            deadline = time.monotonic() + wait
            while not changes and time.monotonic() < deadline:
                await asyncio.sleep(FEED_POLL)
                changes = await self._read(after, limit)
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
            str(max(1, int(wait * 1000))),
            "STREAMS",
            self._feeds[0],
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
        """The position of the last change (or of the last one forgotten). With several
        streams, once every bucket's clock has passed it: a change made later cannot take
        a position before it."""

        calls = [([self._feeds[b], self._floors[b]], [self._micro]) for b in self._buckets]

        async def last() -> list[tuple[int, Position]]:
            ends = []
            for bucket, (clock, ident, floor) in enumerate(
                await self._script_in_buckets("LAST", calls)
            ):
                found = max(
                    self._position(ident, bucket) if ident else ORIGIN,
                    self._position(floor, bucket) if floor else ORIGIN,
                )
                ends.append((int(clock), found))
            return ends

        settle = time.monotonic() + SETTLE_LIMIT
        while True:
            ends = await last()
            position = max(found for _, found in ends)
            if len(ends) == 1 or position[0] < min(clock for clock, _ in ends):
                return position
            if time.monotonic() > settle:
                return position
            await asyncio.sleep(0.001)

    async def trim_changes(self, now: int, max_age_ms: int, max_events: int) -> None:
        """By age in every stream (Redis' clock decides it, as it does expiry); then by
        count over all of them: the oldest changes go until max_events are left."""
        del now
        age = str(max_age_ms * (1000 if self._micro else 1))

        async def trim(bucket: int, keep: str, by_age: str) -> None:
            keys = [self._feeds[bucket], self._floors[bucket]]
            arguments = [keep, by_age, str(TRIM_CHUNK), self._micro]
            while await self._script("TRIM", keys, arguments) >= TRIM_CHUNK:
                pass

        async def length(bucket: int) -> int:
            key = self._feeds[bucket]
            return int(await self._call(lambda c: c.xlen(key)))

        await self._each_bucket(lambda b: trim(b, "", age))
        while True:
            lengths = await self._each_bucket(length)
            over = sum(int(n) for n in lengths) - max_events
            if over <= 0:
                return
            cut = await self._oldest(min(over, TRIM_CHUNK))
            if cut is None:
                return
            await asyncio.gather(*(trim(b, self._next_id(cut, b), "") for b in self._buckets))

    async def _oldest(self, count: int) -> Position | None:
        """The position of the count-th oldest change over every bucket, or of an earlier
        one: what a step of trimming by count may cut up to. Each bucket is asked for the
        ids (not the entries) of twice its share of count; every change before the first
        bucket's last id is among the answers, so the cut is exact up to there.
        Tuning: asking each of 16 buckets for count entries, bodies and all, read 16 times
        what a step removes (measured: a million events trimmed in 194 s on a 3+3 cluster)."""
        buckets = len(self._buckets)
        share = count if buckets == 1 else 2 * count // buckets + 1
        calls = [([self._feeds[b]], [str(share)]) for b in self._buckets]
        known: Position | None = None  # every change before this one is in the answers
        found: list[Position] = []
        for bucket, ids in enumerate(await self._script_in_buckets("OLDEST", calls)):
            positions = [self._position(ident, bucket) for ident in ids]
            found += positions
            if len(positions) == share:
                last = positions[-1]
                upto = (last[0], last[1] + 1)
                known = upto if known is None else min(known, upto)
        before = sorted(p for p in found if known is None or p < known)[:count]
        return before[-1] if before else None

    # tenants ---------------------------------------------------------------------------

    async def usage(self, ns: Namespace) -> Usage:
        known = KnownUsage([(0, 0)] * len(self._buckets))
        await self._read_usage(ns, known)
        return Usage(sum(d for d, _ in known.buckets), sum(u for _, u in known.buckets))

    async def drop(self, ns: Namespace) -> None:
        """Every key of the namespace: its documents, found in each bucket's index and
        unlinked in steps, then the bucket's other keys."""

        async def drop_bucket(bucket: int) -> None:
            base = self._layout.base(ns, bucket)
            while await self._script("DROP", [base + "keys"], [base + "d:", "500"]) >= 500:
                pass
            named = [base + name for name in NAMED]
            await self._call(lambda c: self._command_on(c, named[0], ["UNLINK", *named]))
            if ns.name != DEFAULT.name:
                key = self._namespace_sets[bucket]
                await self._call(lambda c: c.srem(key, [ns.name]))
            self._expiry_indexed.discard(base)

        await self._each_bucket(drop_bucket)
        self._forget_usage(ns)

    def _command_on(self, client: Any, key: str, command: list[Any]) -> Any:
        """A command sent, on a cluster, to the primary that serves key."""
        if not self.options.cluster:
            return client.custom_command(command)
        return client.custom_command(command, route=SlotKeyRoute(SlotType.PRIMARY, key))

    async def _take_many(self, requests: list[list[Bucket]]) -> list[Any]:
        """Rate limits live in the keyspace's home slot: a request counts against several
        at once (its tenant's and its token's), so they must share one slot, and a limit
        must be in the same slot whatever it is taken with. One script per batch."""
        home = self._home
        batch = [
            [value for b in limits for value in (home + RATES + b.key, b.limit, b.window_ms)]
            for limits in requests
        ]
        keys = [home]
        if self.options.cluster:  # every key the script touches (see _touched)
            keys += dict.fromkeys(home + RATES + b.key for limits in requests for b in limits)
        replies: list[Any] = _unpack(await self._script("RATE", keys, [_pack(batch)]))
        return replies

    async def take(self, buckets: list[Bucket], now: int) -> Taken:
        reply = await self._rates.submit(buckets)
        return Taken(
            reply[0] == 1,
            tuple(max(0, int(v)) for v in reply[1::2]),
            tuple(int(v) for v in reply[2::2]),
        )

    async def account_get(self, kind: str, key: str) -> bytes | None:
        value = await self._call(lambda c: c.hget(self._home + ACCOUNTS + kind, key))
        return None if value is None else bytes(value)

    async def account_put(self, kind: str, key: str, value: bytes) -> bool:
        added = await self._call(lambda c: c.hset(self._home + ACCOUNTS + kind, {key: value}))
        return bool(added)

    async def account_delete(self, kind: str, key: str) -> bool:
        removed = await self._call(lambda c: c.hdel(self._home + ACCOUNTS + kind, [key]))
        return bool(removed)

    async def account_list(self, kind: str) -> list[tuple[str, bytes]]:
        found = await self._call(lambda c: c.hgetall(self._home + ACCOUNTS + kind))
        return sorted((_text(k), bytes(v)) for k, v in found.items())

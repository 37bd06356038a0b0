"""Where the Redis store keeps things, and how batches are laid out for its scripts.

Keys live in a fixed number of buckets (PATHKV_REDIS_BUCKETS, recorded in the keyspace): a
document's bucket is a hash of its namespace and path, and every key a script reads or
writes for it is in that bucket, whose keys share one hash tag, so one Redis Cluster slot.
With one bucket (the default on a single Redis) the bucket's keys are the prefix's own, as
before buckets existed; with more, bucket b's keys start ``P{<tag b>}:``, the tags chosen so
their slots spread evenly over the cluster's 16384. Listing, ranking, export, sweep, usage
and the change feed merge over the buckets (store.py). A script's KEYS name every key it
touches (on a single Redis the batched GET and PUT name only their bucket's, a route: the
client's cost is per argument); only the documents an index walk meets cannot be named in
advance, and they are built in the script from its bucket's base: the same hash tag, so
the same slot, on the node the script runs on.

Times are Redis' own (``TIME`` in the scripts, relative lifetimes): every pathkv replica,
whatever its clock says, agrees with Redis on what has expired.

Keys of a bucket K (P itself with one bucket), for a namespace's key base B (K for the
default namespace, so data written before namespaces keeps its keys; ``K n:<name>:`` for any
other):
  B d:<path>  a string "<version>:<digest>:<updated ms>:<expires ms>:<codec>:<body>",
              expiring at <expires> (Redis removes it itself); codec "z" is a zlib body
  B keys      sorted set, all scores 0: the lexicographic index of paths (for listing)
  B hits      sorted set: path -> hits
  B count     the namespace's counter (``GET /``)
  B sweep     the path where the last walk of the index stopped
  B expiry    sorted set: path -> when its document expires (ms); the sweep reads what is due
  B indexed   present once B expiry covers every path (a walk completed it: a keyspace
              written before B expiry existed is walked whole once)
  B sizes     hash: path -> the length of its body, for every path in the index
  B usage     hash: documents, bytes - the sums over ``B sizes``, kept with it in every script
  B count     the namespace's counter, in the bucket of its path "" (not sharded: it is one
              INCRBY per batch of requests, see store.py)
  K namespaces  set of the names of namespaces other than default with data in the bucket
  K changes   stream: the change feed of the bucket's documents, in commit order; fields n
              (namespace), e (put, delete, expire), p (path), and where known v (version),
              g (digest), u (updated ms), x (expires ms), b ("<codec>:<body>", put only)
              Ids: Redis' own (ms) with one bucket; with several, the primary's clock in
              microseconds (scripts.py), so that the buckets' streams merge by time
  K changes:floor  the id of the last change the feed forgot (trimmed)
Keys of the keyspace H (P, with a hash tag on a cluster: ``{pathkv}:``):
  H layout    "buckets=<n>", written when the keyspace is first used
  H accounts:<kind>  hash: key -> an account record (tenants, token digests)
  H rate:<key>  a rate limit's count in its window, expiring when the window ends (one
              slot: a request counts against its tenant's and its token's limits at once)

A namespace name has no ':' and ``d:`` keys start with ``d``, so no path of one namespace
can reach a key of another.

A batch is one flat list, a record of ``stride`` fields after another; its fields are named
once here, and both the Python that packs a batch and the Lua that reads it are built from
that one declaration.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pathkv.core.namespaces import DEFAULT, Namespace

NAMESPACES = "namespaces"
ACCOUNTS = "accounts:"
RATES = "rate:"
CHANGES = "changes"
CHANGES_FLOOR = "changes:floor"
LAYOUT = "layout"
COUNT = "count"
# Keys of a namespace's base besides its documents (``d:<path>``).
NAMED = ("keys", "hits", COUNT, "sweep", "sizes", "usage", "expiry", "indexed")
# The keys a keyspace written before buckets were recorded has under its prefix.
LEGACY = ("keys", COUNT, NAMESPACES, CHANGES, "usage")

SLOTS = 16384
MAX_BUCKETS = 256
CLUSTER_BUCKETS = 16
"""Buckets on a cluster by default: several per primary of a small cluster, so they spread
over three to eight primaries; few enough that a listing's merge stays cheap."""


def has_hash_tag(key: str) -> bool:
    """Whether Redis Cluster would hash only a part of key (a non-empty ``{...}``)."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return end > start + 1


def key_slot(key: str) -> int:
    """The Redis Cluster slot of a key (CRC16/XMODEM of its hash tag, or of all of it)."""
    data = key.encode("utf-8")
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % SLOTS


def bucket_tags(buckets: int) -> list[str]:
    """One hash tag per bucket, bucket b's slot in the b-th of ``buckets`` equal ranges of
    the 16384, so that buckets spread evenly over the primaries of a cluster whose slots
    are split evenly (as ``redis-cli --cluster create`` does)."""
    tags = []
    for b in range(buckets):
        low, high = b * SLOTS // buckets, (b + 1) * SLOTS // buckets
        n = 0
        while not low <= key_slot(f"{{{b}.{n}}}") < high:
            n += 1
        tags.append(f"{b}.{n}")
    return tags


class Layout:
    """The keys of one keyspace: which bucket a document is in, and each bucket's keys."""

    def __init__(self, prefix: str, buckets: int, cluster: bool) -> None:
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be from 1 to {MAX_BUCKETS}")
        self.buckets = buckets
        # The keyspace's own keys; on a cluster under one hash tag, so in one slot.
        self.home = (
            prefix if not cluster or has_hash_tag(prefix) else ("{" + prefix.rstrip(":") + "}:")
        )
        if buckets == 1:
            self.roots = [self.home]
        else:
            self.roots = [f"{prefix}{{{tag}}}:" for tag in bucket_tags(buckets)]
        self._bases: dict[tuple[str, int], str] = {}
        self._counters: dict[str, str] = {}

    @property
    def record(self) -> str:
        return f"buckets={self.buckets}"

    def mismatch(self, prefix: str, found: str) -> str | None:
        """Why a keyspace whose record is found cannot be served with this layout."""
        if found == self.record:
            return None
        had = found.partition("=")[2]
        return (
            f"the Redis keyspace under prefix {prefix!r} was made with {had} bucket(s), "
            f"this server is set to {self.buckets}: set PATHKV_REDIS_BUCKETS={had}, or move "
            "the data to a new prefix with pathkv export | pathkv import"
        )

    def bucket(self, ns: Namespace, path: str) -> int:
        if self.buckets == 1:
            return 0
        key = f"{ns.name}\0{path}".encode("utf-8", "surrogatepass")
        return zlib.crc32(key) % self.buckets

    def base(self, ns: Namespace, bucket: int) -> str:
        """The namespace's key base in a bucket."""
        base = self._bases.get((ns.name, bucket))
        if base is None:
            root = self.roots[bucket]
            base = root if ns.name == DEFAULT.name else f"{root}n:{ns.name}:"
            self._bases[(ns.name, bucket)] = base
        return base

    def counter(self, ns: Namespace) -> str:
        """The key of the namespace's counter (``GET /``)."""
        key = self._counters.get(ns.name)
        if key is None:
            key = self._counters[ns.name] = self.base(ns, self.bucket(ns, "")) + COUNT
        return key


@dataclass(frozen=True)
class Fields:
    """The named positions of one record in a flat batch (or a flat reply)."""

    names: tuple[str, ...]

    @property
    def stride(self) -> int:
        return len(self.names)

    def lua_for_each(self, source: str = "batch") -> str:
        """``for i = 1, #batch, N do local a, b = batch[i], batch[i + 1]`` (end it yourself)."""
        values = ", ".join(
            f"{source}[i + {k}]" if k else f"{source}[i]" for k in range(self.stride)
        )
        names = ", ".join(self.names)
        return f"for i = 1, #{source}, {self.stride} do\n  local {names} = {values}\n"

    def lua_emit(self, *values: str) -> str:
        """Append one reply record to ``out`` (``n`` entries so far)."""
        if len(values) != self.stride:
            raise ValueError(f"{self.names} takes {self.stride} values")
        slots = ", ".join(f"out[n + {k + 1}]" for k in range(self.stride))
        return f"  {slots} = {', '.join(values)}\n  n = n + {self.stride}\n"

    def split(self, flat: Sequence[Any]) -> list[Sequence[Any]]:
        """A flat reply, record by record."""
        step = self.stride
        return [flat[i : i + step] for i in range(0, len(flat), step)]


# GET: key base, path, count a hit (true/false)
#   -> value (false when there is none), hits, milliseconds left to live (Redis' clock)
GET_ITEM = Fields(("base", "path", "count"))
GET_REPLY = Fields(("value", "hits", "left"))
# PUT (KEYS: the bucket's set of namespaces, to which a create adds its own, and its change
# stream): key base, namespace name ("" for the default), path, digest, lifetime (ms), the
# body with its codec ("<codec>:<body>"),
# condition mode, condition arguments (a flat list of version, digest pairs, or a time),
# the body's length (for usage), the namespace's limits on documents and bytes (-1: none),
# and its usage in the other buckets (documents, bytes; as last known)
#   -> version (0 when the condition failed, -1 when Redis refused the write, -2 and -3 when
#      the documents or bytes quota did), hits (or, when Redis refused, its error), created
#      (0/1), the time of the write (ms, Redis' clock), and with limits the namespace's
#      usage in this bucket after it (documents, bytes)
PUT_ITEM = Fields(
    (
        "base",
        "ns",
        "path",
        "digest",
        "ttl",
        "body",
        "mode",
        "tags",
        "size",
        "max_docs",
        "max_bytes",
        "other_docs",
        "other_bytes",
    )
)
PUT_REPLY = Fields(("version", "hits", "created", "updated", "docs", "bytes"))
REFUSED = -1
OVER_DOCUMENTS = -2
OVER_BYTES = -3

"""Where the Redis store keeps things, and how batches are laid out for its scripts.

Times are Redis' own (``TIME`` in the scripts, relative lifetimes): every pathkv replica,
whatever its clock says, agrees with Redis on what has expired.

Keys under the configured prefix P, for a namespace's key base B (``P`` for the default
namespace, so data written before namespaces keeps its keys; ``P n:<name>:`` for any other):
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
  P namespaces  set of the names of namespaces other than default that hold data
  P accounts:<kind>  hash: key -> an account record (tenants, token digests)
  P rate:<key>  a rate limit's count in its window, expiring when the window ends
  P changes   stream: the change feed of every namespace, in commit order; fields n
              (namespace), e (put, delete, expire), p (path), and where known v (version),
              g (digest), u (updated ms), x (expires ms), b ("<codec>:<body>", put only)
  P changes:floor  the id of the last change the feed forgot (trimmed)

A namespace name has no ':' and ``d:`` keys start with ``d``, so no path of one namespace
can reach a key of another.

A batch is one flat list, a record of ``stride`` fields after another; its fields are named
once here, and both the Python that packs a batch and the Lua that reads it are built from
that one declaration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pathkv.core.namespaces import DEFAULT, Namespace

NAMESPACES = "namespaces"
ACCOUNTS = "accounts:"
RATES = "rate:"
CHANGES = "changes"
CHANGES_FLOOR = "changes:floor"


def key_base(prefix: str, ns: Namespace) -> str:
    return prefix if ns.name == DEFAULT.name else f"{prefix}n:{ns.name}:"


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
# PUT (ARGV[2]: the key of the set of namespaces, to which a create adds its own):
# key base, namespace name ("" for the default), path, digest, lifetime (ms), the body with
# its codec ("<codec>:<body>"),
# condition mode, condition arguments (a flat list of version, digest pairs, or a time),
# the body's length (for usage), the namespace's limits on documents and bytes (-1: none)
#   -> version (0 when the condition failed, -1 when Redis refused the write, -2 and -3 when
#      the documents or bytes quota did), hits (or, when Redis refused, its error), created
#      (0/1), the time of the write (ms, Redis' clock)
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
    )
)
PUT_REPLY = Fields(("version", "hits", "created", "updated"))
REFUSED = -1
OVER_DOCUMENTS = -2
OVER_BYTES = -3

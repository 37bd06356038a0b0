"""Listing one level of the tree: ``/-/keys?prefix=/a/&delimiter=/``.

The paths directly under the prefix, and the child folders (the part of a deeper path up to
and including the next delimiter, like S3's CommonPrefixes), in one ascending order. A
folder is read as one path: once seen, the listing jumps past everything in it with one
more store call. Each call asks for one path after a folder and twice as many after each
run of plain paths: a page reads O(page) index entries in O(folders + log page) calls,
whatever the folders hold. (Asking for what is left of the page each time read up to that
many entries of every folder it reported: 7 ms for a page of 100 folders at 10^4
documents, 16 ms at 10^6, bench/SCALE.md.)

An engine may do the whole walk in one call (Store.level: Redis, in one script); the
others are walked here through Store.keys. A page's cursor names its last entry; a
folder's cursor carries a NUL after it (a character no path holds) so the next page
starts past the whole folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pathkv.core.contract import Store
from pathkv.core.errors import InvalidParameter
from pathkv.core.namespaces import Namespace
from pathkv.core.paths import past_prefix

MAX_DELIMITER = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FOLDER_MARK = "\x00"


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    folder: bool

    @property
    def cursor(self) -> str:
        return self.name + FOLDER_MARK if self.folder else self.name


def check_delimiter(delimiter: str) -> str:
    if not delimiter or len(delimiter) > MAX_DELIMITER or _CONTROL.search(delimiter):
        raise InvalidParameter(
            f"'delimiter' must be 1 to {MAX_DELIMITER} characters, none of them a control character"
        )
    return delimiter


async def list_level(
    store: Store,
    ns: Namespace,
    prefix: str,
    cursor: str | None,
    limit: int,
    delimiter: str,
    now: int,
) -> list[Entry]:
    """Up to limit entries after cursor (a value of Entry.cursor), ascending."""
    entries: list[Entry] = []
    after, inclusive = cursor, False
    if cursor is not None and cursor.endswith(FOLDER_MARK):
        after, inclusive = past_prefix(cursor[:-1]), True
        if after is None:
            return entries
    found = await store.level(ns, prefix, after, inclusive, limit, delimiter, now)
    if found is not None:
        return [Entry(name, folder) for name, folder in found]
    step = 1
    while len(entries) < limit:
        wanted = min(limit - len(entries), step)
        paths = await store.keys(ns, prefix, after, wanted, now, inclusive)
        for path in paths:
            cut = path.find(delimiter, len(prefix))
            if cut < 0:
                entries.append(Entry(path, folder=False))
                after, inclusive = path, False
                continue
            folder = path[: cut + len(delimiter)]
            entries.append(Entry(folder, folder=True))
            after, inclusive = past_prefix(folder), True
            if after is None:
                return entries
            step = 1
            break  # the rest of the batch may lie in the folder: ask again past it
        else:
            if len(paths) < wanted:
                return entries
            step *= 2
    return entries

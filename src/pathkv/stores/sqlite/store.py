"""The embedded store: one SQLite file in WAL mode, safe for several worker processes.

Writes go through one writer thread per process that commits whatever is queued in one
transaction (group commit: one fsync for many writes, the event loop never waits on disk).
Reads run on the event loop's thread on their own connection; WAL readers never block
writers. Hits are counted in memory and added to the file every ``hit_flush_interval``.

Durability: ``synchronous=FULL`` - a write is acknowledged only after its transaction is
in the WAL on disk, so it survives the process being killed and the machine losing power.

Tail latency (bench/findings.md item 20): the workers' writers take turns through a lock
file (``<file>-writer``, a blocking ``flock``: the waiting writer wakes the moment the
other lets go) before SQLite's own lock, and copying the WAL back into the database (the
checkpoint) runs on a thread of its own instead of inside whichever commit crossed
SQLite's 1,000-page mark.

Every driver error is wrapped here once, as StoreError with the driver's error as its cause.

Rate-limit windows live in a second file beside the database (``<file>-rates``), written
without fsync by a writer of their own: they are worth nothing after a crash, and counting a
request must never wait behind a document's fsync (opened on the first count).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pathkv.core.contract import (
    Bucket,
    Change,
    ConditionFailed,
    CorruptRecord,
    CursorExpired,
    Limits,
    Position,
    QuotaExceeded,
    Record,
    Store,
    StoreError,
    StoreHealth,
    Taken,
    Usage,
    Write,
)
from pathkv.core.etags import Expect
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.paths import past_prefix
from pathkv.stores.sqlite.options import SQLiteOptions
from pathkv.stores.sqlite.schema import ForeignDatabase, upgrade

log = logging.getLogger("pathkv")

Op = Callable[[sqlite3.Connection], Any]
Queued = tuple[Op, asyncio.Future[Any], asyncio.AbstractEventLoop]
Settled = tuple[asyncio.Future[Any], bool, Any]

# A record: the document's row and its hits, which live in a table of their own (schema.py).
RECORD = (
    "SELECT d.path, d.body, d.version, d.digest, d.last_updated, d.expires_at, "
    "coalesce(h.hits, 0) FROM documents d LEFT JOIN hits h ON h.ns = d.ns AND h.path = d.path "
)
UPSERT = """
INSERT INTO documents (ns, path, body, version, digest, last_updated, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (ns, path) DO UPDATE SET body = excluded.body, version = excluded.version,
    digest = excluded.digest, last_updated = excluded.last_updated,
    expires_at = excluded.expires_at
"""
# Hits of a document that is still there (one deleted meanwhile keeps none).
ADD_HITS = """
INSERT INTO hits (ns, path, hits)
SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM documents WHERE ns = ?1 AND path = ?2)
ON CONFLICT (ns, path) DO UPDATE SET hits = hits + excluded.hits
"""
CHANGE = (
    "INSERT INTO changes (ns, event, path, version, digest, last_updated, expires_at, body, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CHANGE_COLUMNS = "seq, ns, event, path, version, digest, last_updated, expires_at, body"
MAX_BATCH = 256
# Tuning: buffered hits stored by one transaction. Random GETs over 10^5 documents buffer
# about 7,500 paths a worker between two flushes; stored at once they held the write lock
# for 300 to 580 ms while every PUT waited (PUT p99 130 to 190 ms after a GET load); 256
# paths hold it for about 10 ms (p99 30 ms then, as without the GETs before).
HIT_CHUNK = 256
# Tuning: change events removed by one transaction of a trim.
TRIM_CHUNK = 1000
# Tuning: how often the feed's reader looks for new changes (SQLite cannot block on them).
FEED_POLL = 0.01
# A migration of a large first-layout file may take a while; other workers wait for it.
INITIALIZE_TIMEOUT = 300.0
# Tuning: the page size of a new database file. Documents live in a WITHOUT ROWID table,
# whose rows stay within a page only up to about a quarter of it: with 4 KiB pages every
# document of 1 KiB or more spilled into an overflow page of its own, 4.8 KB of file per
# 1 KiB document and two page reads per GET (bench/SCALE.md); 8 KiB pages keep documents of
# up to about 2 KB inline.
PAGE_SIZE = 8192
# Tuning: how often the checkpointer copies committed WAL pages into the database, the WAL
# size (frames) at which the writer completes a checkpoint so that the WAL starts over, and
# the size SQLite then cuts the WAL file back to.
# RESET_FRAMES measured under random PUTs at 64 connections (p99): 4,000 frames 24 ms over
# 10^5 documents and 17 to 18 ms over 10^4; 1,000 frames 21 and 16 ms (each checkpoint the
# other worker waits for is shorter); 500 no better than 1,000.
CHECKPOINT_EVERY = 0.1
RESET_FRAMES = 1000
WAL_SIZE_LIMIT = 64 * 1024 * 1024
# Tuning: files up to this size are checked (PRAGMA quick_check) when opened: about a
# second per few hundred MiB here; larger files start without it.
QUICK_CHECK_UP_TO = 256 * 1024 * 1024


RATES_TABLE = """
CREATE TABLE IF NOT EXISTS rates (
    key TEXT PRIMARY KEY,
    started INTEGER NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID
"""


def _connect(options: SQLiteOptions, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(options.path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _connect_writer(options: SQLiteOptions, busy_timeout: float) -> sqlite3.Connection:
    """The documents' write connection: it never checkpoints on commit (the checkpointer
    does, off the write path)."""
    conn = _connect(options, busy_timeout)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


def writer_lock_path(options: SQLiteOptions) -> Path:
    """The lock file the workers' writers take turns on, beside the database."""
    return options.path.with_name(options.path.name + "-writer")


def rates_path(options: SQLiteOptions) -> Path:
    """The rate-limit windows' file, beside the database."""
    return options.path.with_name(options.path.name + "-rates")


def _connect_rates(options: SQLiteOptions, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(rates_path(options), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(max(busy_timeout, 5.0) * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(RATES_TABLE)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    return conn


def _initialize(options: SQLiteOptions) -> None:
    path = options.path
    if not options.create and not path.exists():
        raise StoreError(f"no pathkv database at {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(options, INITIALIZE_TIMEOUT)
        try:
            # For a new file only (an existing file keeps the size it was made with).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            if path.stat().st_size <= QUICK_CHECK_UP_TO:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise StoreError(
                        f"{path} is damaged (PRAGMA quick_check: {'; '.join(problems)}); "
                        "restore it from a backup (pathkv export/import)"
                    )
            conn.execute("BEGIN IMMEDIATE")
            try:
                done = upgrade(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    except ForeignDatabase as exc:
        raise StoreError(f"{path} is not a pathkv database ({exc}); refusing to use it") from exc
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc
    if done:
        log.info("SQLite database %s", done, extra={"path": str(path)})


def _record(row: tuple[Any, ...]) -> Record:
    body = row[1]
    if type(body) is not bytes:
        # Another tool wrote this row (a TEXT or number body): pathkv did not, and will not
        # serve it as if it had.
        raise CorruptRecord(
            f"the document at {row[0]!r} holds a {type(body).__name__} body that pathkv did "
            "not write"
        )
    return Record(row[0], body, row[2], row[3], row[4], row[5], row[6])


def _put_change(conn: sqlite3.Connection, ns: str, record: Record, now: int) -> None:
    conn.execute(
        CHANGE,
        (
            ns,
            "put",
            record.path,
            record.version,
            record.digest,
            record.last_updated,
            record.expires_at,
            record.body,
            now,
        ),
    )


def _change(row: tuple[Any, ...]) -> Change:
    return Change((row[0], 0), row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8])


def _write_failed(exc: Exception) -> StoreError:
    error = StoreError(f"SQLite write failed: {exc}")
    error.__cause__ = exc
    return error


class _Writer:
    """A thread that owns the write connection and commits queued operations in batches.

    One operation's failure fails that operation only; the thread outlives every error.
    """

    def __init__(
        self,
        options: SQLiteOptions,
        connect: Callable[[SQLiteOptions, float], sqlite3.Connection] = _connect_writer,
        turns: Path | None = None,
    ) -> None:
        """turns: a lock file held around every transaction (None: SQLite's lock only)."""
        self._options = options
        self._connect = connect
        self._turns = turns
        self._queue: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        # Why the last transaction failed (disk full, read-only or damaged file), until one
        # commits again.
        self.failure: str | None = None
        # Set by the checkpointer: finish a checkpoint after the next commit (_Checkpointer).
        self.reset_due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pathkv-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> asyncio.Future[Any]:
        if not self._thread.is_alive():
            raise StoreError("the SQLite writer is stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((op, future, loop))
        return future

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        # The lock is polled in _begin; statements inside a transaction never wait.
        conn = self._connect(self._options, 0)
        self._turn: int | None = None
        if self._turns is not None:
            try:
                self._turn = os.open(self._turns, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:  # a read-only directory: SQLite's lock alone then
                log.warning(
                    "cannot open %s (%s): writers take SQLite's lock only", self._turns, exc
                )
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stopping = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stopping:
                    return
        finally:
            if self._turn is not None:
                os.close(self._turn)
            conn.close()

    def _begin(self, conn: sqlite3.Connection) -> None:
        """Take this server's turn, then SQLite's write lock, polling every fraction of a
        millisecond while another process (not a worker of this server) holds it.

        Tuning: SQLite's own busy handler sleeps up to 100 ms between tries, which showed
        up as 400 ms p99 latency with two workers writing at once; polling alone still
        left a writer waiting up to 2 ms after the lock was free (findings item 20).
        """
        if self._turn is not None:
            fcntl.flock(self._turn, fcntl.LOCK_EX)  # the GIL is released while it waits
        deadline = time.monotonic() + self._options.busy_timeout
        pause = 0.0002
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    def _commit(self, conn: sqlite3.Connection, batch: list[Queued]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            self._begin(conn)
            for op, _, _ in batch:
                try:
                    outcomes.append((True, op(conn)))
                except (ConditionFailed, QuotaExceeded) as exc:  # before the op changed anything
                    outcomes.append((False, exc))
                except Exception as exc:
                    # A statement that fails changes nothing (SQLite undoes the statement),
                    # so the batch's other operations stand.
                    outcomes.append((False, _write_failed(exc)))
            if not conn.in_transaction:
                raise sqlite3.OperationalError("the transaction was rolled back")
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(False, _write_failed(exc))] * len(batch)
            self.failure = f"SQLite writes fail: {exc}"
        else:
            self.failure = None
            if self.reset_due.is_set():
                self.reset_due.clear()
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            if self._turn is not None:
                fcntl.flock(self._turn, fcntl.LOCK_UN)
        # Tuning: one wake-up of each event loop for the whole batch, not one per operation
        # (each is a write to the loop's self-pipe and a turn of the GIL).
        settled: dict[asyncio.AbstractEventLoop, list[Settled]] = {}
        for (_, future, loop), (ok, value) in zip(batch, outcomes, strict=True):
            settled.setdefault(loop, []).append((future, ok, value))
        for loop, results in settled.items():
            loop.call_soon_threadsafe(_settle, results)


class _Checkpointer:
    """A thread that copies committed WAL pages into the database every CHECKPOINT_EVERY
    seconds (a PASSIVE checkpoint: it never blocks a reader or a writer).

    Every worker runs one; SQLite lets one checkpoint run at a time and the others find
    nothing left to do. A checkpoint that runs beside writers never catches up with them,
    and SQLite starts the WAL over only once one has: when the WAL holds RESET_FRAMES, the
    checkpointer asks the writer to finish the job between two transactions, in its turn,
    when no other worker writes (measured: without that, the WAL of a 10^6-document file
    under PUT load grew past 2 GB, and every read looks a page up in the WAL's index).
    """

    def __init__(self, options: SQLiteOptions, writer: _Writer) -> None:
        self._options = options
        self._writer = writer
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="pathkv-sqlite-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        """Until stopped; a failure (busy, the disk, no file descriptor left) is tried again
        next time, and said once: the thread must not end, or the WAL grows unbounded."""
        conn: sqlite3.Connection | None = None
        said = ""
        try:
            while not self._stopped.wait(CHECKPOINT_EVERY):
                try:
                    if conn is None:
                        conn = _connect(self._options, 0)
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:
                    if str(exc) != said and "locked" not in str(exc):
                        log.warning("SQLite checkpoint failed, trying again: %s", exc)
                    said = str(exc)
                    continue
                said = ""
                if frames >= RESET_FRAMES:
                    self._writer.reset_due.set()
        finally:
            if conn is not None:
                conn.close()


def _settle(results: list[Settled]) -> None:
    for future, ok, value in results:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SQLiteStore(Store):
    def __init__(self, options: SQLiteOptions) -> None:
        self.options = options
        self.path = options.path
        self._writer: _Writer | None = None
        self._checkpointer: _Checkpointer | None = None
        self._rates: _Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._pending_hits: dict[tuple[str, str], int] = {}
        self._flushing = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    # lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(_initialize, self.options)
        self._reader = _connect(self.options, self.options.busy_timeout)
        self._writer = _Writer(self.options, turns=writer_lock_path(self.options))
        self._checkpointer = _Checkpointer(self.options, self._writer)
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._writer is not None:
            with contextlib.suppress(StoreError):
                await self.flush()
            await asyncio.to_thread(self._writer.stop)
            self._writer = None
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        if self._rates is not None:
            await asyncio.to_thread(self._rates.stop)
            self._rates = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def ping(self) -> None:
        if self._writer is None or not self._writer.alive():
            raise StoreError("the SQLite store is not open")
        self._read("SELECT 1", ())

    async def health(self) -> StoreHealth:
        await self.ping()
        failure = self._writer.failure if self._writer is not None else None
        return StoreHealth(failure is None, failure)

    # helpers ---------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        if self._reader is None:
            raise StoreError("the SQLite store is not open")
        try:
            return self._reader.execute(sql, params).fetchall()
        except (sqlite3.Error, OverflowError) as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc

    async def _write(self, op: Op) -> Any:
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        return await self._writer.submit(op)

    @staticmethod
    def _store(conn: sqlite3.Connection, ns: Namespace, record: Record, hits: bool) -> None:
        """Write a record as it is (its hits too, with hits; else they stay as they are); a
        namespace other than default is recorded in the same transaction."""
        if ns.name != DEFAULT.name:
            conn.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (ns.name,))
        conn.execute(
            UPSERT,
            (
                ns.name,
                record.path,
                record.body,
                record.version,
                record.digest,
                record.last_updated,
                record.expires_at,
            ),
        )
        if not hits:
            return
        if record.hits > 0:
            conn.execute(
                "INSERT OR REPLACE INTO hits (ns, path, hits) VALUES (?, ?, ?)",
                (ns.name, record.path, record.hits),
            )
        else:
            conn.execute("DELETE FROM hits WHERE ns = ? AND path = ?", (ns.name, record.path))

    # hits ------------------------------------------------------------------------------

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.options.hit_flush_interval)
            with contextlib.suppress(StoreError):
                await self.flush()

    async def flush(self) -> None:
        """Add buffered hits to the file; on failure they stay buffered for the next try.

        Once it returns, every hit counted before the call is in the file: a flush already
        under way is waited for."""
        if not self._pending_hits and not self._flushing.locked():
            return
        async with self._flushing:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        """The buffered hits, HIT_CHUNK paths a transaction, one after the other: the
        writes queued meanwhile go between them."""
        if not self._pending_hits:
            return
        pending = [(ns, path, n) for (ns, path), n in self._pending_hits.items()]
        self._pending_hits = {}

        def adder(rows: list[tuple[str, str, int]]) -> Callable[[sqlite3.Connection], None]:
            def op(conn: sqlite3.Connection) -> None:
                conn.executemany(ADD_HITS, rows)

            return op

        for start in range(0, len(pending), HIT_CHUNK):
            try:
                await self._write(adder(pending[start : start + HIT_CHUNK]))
            except StoreError:
                for ns, path, count in pending[start:]:
                    key = (ns, path)
                    self._pending_hits[key] = self._pending_hits.get(key, 0) + count
                raise

    # contract --------------------------------------------------------------------------

    async def put(
        self, ns: Namespace, write: Write, expect: Expect | None, limits: Limits | None = None
    ) -> tuple[Record, bool]:
        name = ns.name

        def op(conn: sqlite3.Connection) -> tuple[Record, bool]:
            row = conn.execute(
                "SELECT d.version, d.digest, d.expires_at, coalesce(h.hits, 0), d.last_updated, "
                "length(d.body) FROM documents d "
                "LEFT JOIN hits h ON h.ns = d.ns AND h.path = d.path "
                "WHERE d.ns = ? AND d.path = ?",
                (name, write.path),
            ).fetchone()
            live = row is not None and row[2] > write.now
            if expect is not None and not (
                expect.holds((row[0], row[1]), row[4]) if live else expect.holds(None)
            ):
                raise ConditionFailed(write.path)
            if limits is not None:
                self._check_limits(conn, name, limits, len(write.body), row)
            if row is not None and not live:
                conn.execute(
                    CHANGE,
                    (name, "expire", write.path, row[0], row[1], row[4], row[2], None, write.now),
                )
            record = Record(
                write.path,
                write.body,
                row[0] + 1 if live else 1,
                write.digest,
                write.now,
                write.expires_at,
                row[3] if live else 0,
            )
            # A document written anew over an expired one starts from 0 hits.
            self._store(conn, ns, record, hits=row is not None and not live)
            _put_change(conn, name, record, write.now)
            return record, not live

        record, created = await self._write(op)
        if created:
            self._pending_hits.pop((name, write.path), None)
        return record, created

    async def get(self, ns: Namespace, path: str, now: int, count_hit: bool) -> Record | None:
        rows = self._read(
            RECORD + "WHERE d.ns = ? AND d.path = ? AND d.expires_at > ?",
            (ns.name, path, now),
        )
        if not rows:
            return None
        if count_hit:
            key = (ns.name, path)
            self._pending_hits[key] = self._pending_hits.get(key, 0) + 1
        return _record(rows[0])

    async def delete(self, ns: Namespace, path: str, now: int, expect: Expect | None) -> bool:
        name = ns.name

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT version, digest, last_updated, expires_at FROM documents "
                "WHERE ns = ? AND path = ? AND expires_at > ?",
                (name, path, now),
            ).fetchone()
            if expect is not None and not (
                expect.holds((row[0], row[1]), row[2]) if row else expect.holds(None)
            ):
                raise ConditionFailed(path)
            if row is None:
                return False
            conn.execute("DELETE FROM documents WHERE ns = ? AND path = ?", (name, path))
            conn.execute(CHANGE, (name, "delete", path, *row, None, now))
            return True

        found: bool = await self._write(op)
        self._pending_hits.pop((name, path), None)
        return found

    async def keys(
        self,
        ns: Namespace,
        prefix: str,
        after: str | None,
        limit: int,
        now: int,
        inclusive: bool = False,
    ) -> list[str]:
        if after is not None and after >= prefix:
            lower_op, lower = (">=" if inclusive else ">"), after
        else:
            lower_op, lower = ">=", prefix
        upper = past_prefix(prefix)
        sql = f"SELECT path FROM documents WHERE ns = ? AND path {lower_op} ? AND expires_at > ?"
        params: tuple[Any, ...] = (ns.name, lower, now)
        if upper is not None:
            sql += " AND path < ?"
            params += (upper,)
        rows = self._read(sql + " ORDER BY path LIMIT ?", (*params, limit))
        return [row[0] for row in rows]

    async def records(self, ns: Namespace, after: str | None, limit: int, now: int) -> list[Record]:
        rows = self._read(
            RECORD + "WHERE d.ns = ? AND d.path > ? AND d.expires_at > ? ORDER BY d.path LIMIT ?",
            (ns.name, after or "", now, limit),
        )
        return [_record(row) for row in rows]

    async def restore(self, ns: Namespace, record: Record, now: int) -> bool:
        return (await self.restore_many([(ns, record)], now))[0]

    async def restore_many(self, items: list[tuple[Namespace, Record]], now: int) -> list[bool]:
        """In one transaction (one fsync for the whole batch)."""

        def op(conn: sqlite3.Connection) -> list[bool]:
            return [self._restore(conn, ns, record, now) for ns, record in items]

        restored: list[bool] = await self._write(op)
        for (ns, record), done in zip(items, restored, strict=True):
            if done:
                self._pending_hits.pop((ns.name, record.path), None)
        return restored

    @classmethod
    def _restore(cls, conn: sqlite3.Connection, ns: Namespace, record: Record, now: int) -> bool:
        row = conn.execute(
            "SELECT version FROM documents WHERE ns = ? AND path = ? AND expires_at > ?",
            (ns.name, record.path, now),
        ).fetchone()
        if record.expires_at <= now or (row is not None and row[0] >= record.version):
            return False
        cls._store(conn, ns, record, hits=True)
        _put_change(conn, ns.name, record, now)
        return True

    async def incr_root(self, ns: Namespace, by: int = 1) -> int:
        name = ns.name
        if by == 0:
            rows = self._read("SELECT value FROM counters WHERE ns = ? AND name = 'root'", (name,))
            return int(rows[0][0]) if rows else 0

        def op(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO counters (ns, name, value) VALUES (?, 'root', ?) "
                "ON CONFLICT (ns, name) DO UPDATE SET value = value + excluded.value "
                "RETURNING value",
                (name, by),
            ).fetchone()
            return int(row[0])

        value: int = await self._write(op)
        return value

    async def top_hits(self, ns: Namespace, limit: int, now: int) -> list[tuple[str, int]]:
        rows = self._read(
            "SELECT h.path, h.hits FROM hits h "
            "JOIN documents d ON d.ns = h.ns AND d.path = h.path "
            "WHERE h.ns = ? AND h.hits > 0 AND d.expires_at > ? "
            "ORDER BY h.hits DESC, h.path LIMIT ?",
            (ns.name, now, limit),
        )
        return [(row[0], row[1]) for row in rows]

    async def sweep(self, ns: Namespace, now: int, limit: int) -> int:
        name = ns.name

        def op(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "DELETE FROM documents WHERE ns = ? AND path IN "
                "(SELECT path FROM documents WHERE ns = ? AND expires_at <= ? LIMIT ?) "
                "RETURNING path, version, digest, last_updated, expires_at",
                (name, name, now, limit),
            ).fetchall()
            conn.executemany(CHANGE, [(name, "expire", *row, None, now) for row in rows])
            return len(rows)

        removed: int = await self._write(op)
        return removed

    async def namespaces(self) -> list[Namespace]:
        rows = self._read("SELECT name FROM namespaces ORDER BY name", ())
        names = {DEFAULT.name, *(row[0] for row in rows)}
        return [Namespace(name) for name in sorted(names)]

    # the change feed -------------------------------------------------------------------

    def _trimmed(self) -> int:
        rows = self._read("SELECT value FROM feed WHERE name = 'trimmed'", ())
        return int(rows[0][0]) if rows else 0

    async def changes(
        self, after: Position, limit: int, ns: Namespace | None = None
    ) -> list[Change]:
        if after[0] < self._trimmed():
            raise CursorExpired(f"changes after {after[0]} are no longer kept")
        if ns is None:
            rows = self._read(
                f"SELECT {CHANGE_COLUMNS} FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (after[0], limit),
            )
        else:
            rows = self._read(
                f"SELECT {CHANGE_COLUMNS} FROM changes WHERE ns = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (ns.name, after[0], limit),
            )
        return [_change(row) for row in rows]

    async def next_changes(self, after: Position, limit: int, wait: float) -> list[Change]:
        deadline = time.monotonic() + wait
        while True:
            rows = self._read(
                f"SELECT {CHANGE_COLUMNS} FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (after[0], limit),
            )
            if rows or time.monotonic() >= deadline:
                return [_change(row) for row in rows]
            await asyncio.sleep(FEED_POLL)

    async def present(self) -> Position:
        rows = self._read("SELECT max(seq) FROM changes", ())
        latest = rows[0][0] if rows and rows[0][0] is not None else 0
        return (max(latest, self._trimmed()), 0)

    async def trim_changes(self, now: int, max_age_ms: int, max_events: int) -> None:
        """In transactions of at most TRIM_CHUNK events, so that no write waits behind the
        removal of a large backlog (the cost is what it removes, not what the feed holds)."""

        def op(conn: sqlite3.Connection) -> int:
            # Two subqueries: SQLite seeks one min() or max() in the index, but scans the
            # whole table for both in one SELECT (it did, at 10^6 documents: 87 us an event).
            first, latest = conn.execute(
                "SELECT (SELECT min(seq) FROM changes), (SELECT max(seq) FROM changes)"
            ).fetchone()
            if latest is None:
                return 0
            # Only the oldest chunk is read: the events are in the order of `at`.
            old = conn.execute(
                "SELECT max(seq) FROM (SELECT seq, at FROM changes ORDER BY seq LIMIT ?) "
                "WHERE at < ?",
                (TRIM_CHUNK, now - max_age_ms),
            ).fetchone()[0]
            cutoff = min(max(latest - max_events, old or 0), first + TRIM_CHUNK - 1)
            if cutoff < first:
                return 0
            removed = conn.execute("DELETE FROM changes WHERE seq <= ?", (cutoff,)).rowcount
            conn.execute(
                "INSERT INTO feed (name, value) VALUES ('trimmed', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (cutoff,),
            )
            return int(removed)

        while await self._write(op) >= TRIM_CHUNK:
            pass

    # tenants ---------------------------------------------------------------------------

    @staticmethod
    def _check_limits(
        conn: sqlite3.Connection, name: str, limits: Limits, size: int, row: Any
    ) -> None:
        """Raise QuotaExceeded when writing size bytes (over row, the stored document, if
        any) takes the namespace past limits; inside the write's own transaction."""
        found = conn.execute("SELECT documents, bytes FROM usage WHERE ns = ?", (name,)).fetchone()
        documents, used = found if found is not None else (0, 0)
        old = row[5] if row is not None else 0
        if row is None and limits.documents is not None and documents + 1 > limits.documents:
            raise QuotaExceeded("documents")
        if size > old and limits.bytes is not None and used + size - old > limits.bytes:
            raise QuotaExceeded("bytes")

    async def usage(self, ns: Namespace) -> Usage:
        rows = self._read("SELECT documents, bytes FROM usage WHERE ns = ?", (ns.name,))
        return Usage(rows[0][0], rows[0][1]) if rows else Usage()

    async def drop(self, ns: Namespace) -> None:
        name = ns.name

        def op(conn: sqlite3.Connection) -> None:
            for table, column in (
                ("documents", "ns"),
                ("counters", "ns"),
                ("usage", "ns"),
                ("namespaces", "name"),
            ):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))

        await self._write(op)
        for key in [key for key in self._pending_hits if key[0] == name]:
            del self._pending_hits[key]

    async def take(self, buckets: list[Bucket], now: int) -> Taken:
        if self._writer is None:
            raise StoreError("the SQLite store is not open")
        if self._rates is None:
            self._rates = _Writer(self.options, _connect_rates)

        def op(conn: sqlite3.Connection) -> Taken:
            # Per bucket: when its window started, and what it has counted (Bucket says why
            # a window starts with its first request).
            windows, resets = [], []
            for bucket in buckets:
                row = conn.execute(
                    "SELECT started, count FROM rates WHERE key = ?", (bucket.key,)
                ).fetchone()
                if row is None or now >= row[0] + bucket.window_ms:
                    row = (now, 0)
                windows.append(row)
                resets.append(row[0] + bucket.window_ms - now)
            allowed = all(w[1] < b.limit for w, b in zip(windows, buckets, strict=True))
            if allowed:
                windows = [(started, count + 1) for started, count in windows]
                conn.executemany(
                    "INSERT OR REPLACE INTO rates (key, started, count) VALUES (?, ?, ?)",
                    [(b.key, *w) for b, w in zip(buckets, windows, strict=True)],
                )
            return Taken(
                allowed,
                tuple(max(0, b.limit - w[1]) for w, b in zip(windows, buckets, strict=True)),
                tuple(resets),
            )

        taken: Taken = await self._rates.submit(op)
        return taken

    async def account_get(self, kind: str, key: str) -> bytes | None:
        rows = self._read("SELECT value FROM accounts WHERE kind = ? AND key = ?", (kind, key))
        return bytes(rows[0][0]) if rows else None

    async def account_put(self, kind: str, key: str, value: bytes) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE accounts SET value = ? WHERE kind = ? AND key = ?", (value, kind, key)
            )
            if cursor.rowcount:
                return False
            conn.execute(
                "INSERT INTO accounts (kind, key, value) VALUES (?, ?, ?)", (kind, key, value)
            )
            return True

        created: bool = await self._write(op)
        return created

    async def account_delete(self, kind: str, key: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM accounts WHERE kind = ? AND key = ?", (kind, key))
            return cursor.rowcount > 0

        found: bool = await self._write(op)
        return found

    async def account_list(self, kind: str) -> list[tuple[str, bytes]]:
        rows = self._read("SELECT key, value FROM accounts WHERE kind = ? ORDER BY key", (kind,))
        return [(row[0], bytes(row[1])) for row in rows]

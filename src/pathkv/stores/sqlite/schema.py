"""The embedded store's schema, how a file is recognised as pathkv's, and its migrations.

A pathkv database carries ``PRAGMA application_id`` = APPLICATION_ID and ``user_version`` =
SCHEMA_VERSION. A file of the first layout (no namespaces, both pragmas 0) is migrated in
place, once, inside one write transaction: with several workers opening the file at once, the
first takes the lock and migrates, and the others find the new version when they get it.
A file that holds tables of another application is refused, never written to.

Version 3 adds what tenants need: each namespace's usage (kept by triggers, so every way a
document is written or removed counts, in one place) and the accounts (tenants and token
digests); and the change feed (``changes``, with ``feed.trimmed``: the last sequence number
forgotten).

Version 4 keeps hit counts in a table of their own (``hits``, with the ranking's index),
out of the documents' rows: counting a hit rewrote the whole row of its document (its body
too) and moved it in the ranking's index, so random reads over a large keyspace wrote a page
per document hit (bench/SCALE.md). ``documents.hits`` stays in files made before (and, unused,
in new ones: the first layout's migration writes it); it is no longer read or written.
"""

from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x504B5631  # "PKV1"
SCHEMA_VERSION = 4

TABLES = """
CREATE TABLE documents (
    ns TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    last_updated INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ns, path)
) WITHOUT ROWID;
CREATE INDEX documents_expires_at ON documents (ns, expires_at);
CREATE INDEX documents_hits ON documents (ns, hits);
CREATE TABLE counters (
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (ns, name)
) WITHOUT ROWID;
CREATE TABLE namespaces (name TEXT PRIMARY KEY) WITHOUT ROWID;
"""

# Version 3: usage per namespace, and accounts; usage starts from what the file holds.
ACCOUNTS = """
CREATE TABLE usage (
    ns TEXT PRIMARY KEY,
    documents INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE accounts (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TRIGGER documents_added AFTER INSERT ON documents BEGIN
    INSERT INTO usage (ns, documents, bytes) VALUES (NEW.ns, 1, length(NEW.body))
    ON CONFLICT (ns) DO UPDATE SET documents = documents + 1, bytes = bytes + length(NEW.body);
END;
CREATE TRIGGER documents_removed AFTER DELETE ON documents BEGIN
    UPDATE usage SET documents = documents - 1, bytes = bytes - length(OLD.body)
    WHERE ns = OLD.ns;
END;
CREATE TRIGGER documents_changed AFTER UPDATE OF body ON documents BEGIN
    UPDATE usage SET bytes = bytes + length(NEW.body) - length(OLD.body) WHERE ns = NEW.ns;
END;
INSERT INTO usage (ns, documents, bytes)
    SELECT ns, count(*), coalesce(sum(length(body)), 0) FROM documents GROUP BY ns;
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ns TEXT NOT NULL,
    event TEXT NOT NULL,
    path TEXT NOT NULL,
    version INTEGER,
    digest TEXT,
    last_updated INTEGER,
    expires_at INTEGER,
    body BLOB,
    at INTEGER NOT NULL
);
CREATE INDEX changes_ns ON changes (ns, seq);
CREATE TABLE feed (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

# Version 4: hits out of the documents' rows. A document's removal takes its hits along.
HITS = """
CREATE TABLE hits (
    ns TEXT NOT NULL,
    path TEXT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (ns, path)
) WITHOUT ROWID;
CREATE INDEX hits_ranking ON hits (ns, hits);
INSERT INTO hits (ns, path, hits) SELECT ns, path, hits FROM documents WHERE hits > 0;
DROP INDEX IF EXISTS documents_hits;
CREATE TRIGGER documents_forget_hits AFTER DELETE ON documents BEGIN
    DELETE FROM hits WHERE ns = OLD.ns AND path = OLD.path;
END;
"""

# The first layout: one namespace. Its data becomes the default namespace's.
FROM_VERSION_1 = (
    """
DROP INDEX IF EXISTS documents_expires_at;
DROP INDEX IF EXISTS documents_hits;
ALTER TABLE documents RENAME TO documents_v1;
ALTER TABLE counters RENAME TO counters_v1;
"""
    + TABLES
    + """
INSERT INTO documents (ns, path, body, version, digest, last_updated, expires_at, hits)
    SELECT 'default', path, body, version, digest, last_updated, expires_at, hits
    FROM documents_v1;
INSERT INTO counters (ns, name, value) SELECT 'default', name, value FROM counters_v1;
DROP TABLE documents_v1;
DROP TABLE counters_v1;
"""
)
VERSION_1_COLUMNS = ["path", "body", "version", "digest", "last_updated", "expires_at", "hits"]
VERSION_2_TABLES = {"documents", "counters", "namespaces"}
VERSION_3_TABLES = VERSION_2_TABLES | {"usage", "accounts", "changes", "feed"}


class ForeignDatabase(Exception):
    """The file is a SQLite database of another application (or a newer pathkv)."""


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows if not row[0].startswith("sqlite_")}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def upgrade(conn: sqlite3.Connection) -> str | None:
    """Bring the file to SCHEMA_VERSION inside the caller's write transaction.

    Returns what was done ("created", "migrated from version 1") or None when the file was
    current. Raises ForeignDatabase, having changed nothing, for a file that is not pathkv's.
    """
    application = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if application == APPLICATION_ID and version == SCHEMA_VERSION:
        return None
    if application == APPLICATION_ID and version > SCHEMA_VERSION:
        raise ForeignDatabase(f"written by a newer pathkv (schema {version})")
    tables = _tables(conn)
    if application not in (0, APPLICATION_ID) or (application == 0 and version != 0):
        raise ForeignDatabase(f"application id {application:#x}, user version {version}")
    if not tables:
        _run(conn, TABLES + ACCOUNTS + HITS)
        done = "created"
    elif application == APPLICATION_ID and version == 3 and tables == VERSION_3_TABLES:
        _run(conn, HITS)
        done = "migrated from version 3"
    elif application == APPLICATION_ID and version == 2 and tables == VERSION_2_TABLES:
        _run(conn, ACCOUNTS + HITS)
        done = "migrated from version 2"
    elif tables == {"documents", "counters"} and _columns(conn, "documents") == VERSION_1_COLUMNS:
        _run(conn, FROM_VERSION_1 + ACCOUNTS + HITS)
        done = "migrated from version 1"
    else:
        raise ForeignDatabase(f"it holds the tables {', '.join(sorted(tables))}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return done


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Statements one by one: ``executescript`` would commit the caller's transaction.

    A trigger's body holds ``;`` of its own: its statements run up to its ``END;``.
    """
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if pending.lstrip().upper().startswith("CREATE TRIGGER") and not pending.rstrip(
            "; \n"
        ).upper().endswith("END"):
            continue
        if pending.strip(" \n;"):
            conn.execute(pending)
        pending = ""

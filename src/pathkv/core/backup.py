"""Export and import: every live document as one JSON line, and back, idempotently.

A line is ``{"namespace", "path", "data", "version", "last_updated_ms", "expires_at_ms",
"hits"}``; a line without ``namespace`` (written before namespaces) belongs to ``default``.
Import keeps namespace, version, times and hits; a document whose stored version is already equal or
newer is left alone, so importing the same file twice changes nothing.

Tenants and tokens come first, one line each: ``{"account": "tenant"|"token", "key", "value"}``
(a token's value holds its digest, never its secret), so a restore restores access too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import orjson

from pathkv.core.contract import Record, Store
from pathkv.core.documents import digest, encode, parse_json
from pathkv.core.errors import BadRequest, InvalidDocument, PathTooLong
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.paths import normalize
from pathkv.core.tenants import Tenant
from pathkv.core.tokens import Token

BATCH = 500
# Tuning: documents an import hands the store at once (Store.restore_many: one transaction
# and one fsync on SQLite, calls in parallel on Redis); one at a time, SQLite imported about
# 2,000 documents a second, bound by one fsync each (bench/findings.md item 21).
RESTORE_BATCH = 256
LARGEST = 2**63
ACCOUNT_KINDS = ("tenant", "token")


async def export_lines(
    store: Store, now: int, only: Namespace | None = None
) -> AsyncIterator[bytes]:
    """Every tenant and token, then every live document of every namespace, namespace by
    namespace (or only one namespace, its tenant and its tokens)."""
    for kind in ACCOUNT_KINDS:
        for key, value in await store.account_list(kind):
            if only is not None and _owner(kind, value) != only.name:
                continue
            yield b'{"account":"%s","key":%s,"value":%s}\n' % (
                kind.encode("ascii"),
                orjson.dumps(key),
                value,
            )
    for ns in [only] if only is not None else await store.namespaces():
        head = b'{"namespace":' + orjson.dumps(ns.name) + b',"path":'
        after: str | None = None
        while True:
            records = await store.records(ns, after, BATCH, now)
            for record in records:
                yield b"".join(
                    (
                        head,
                        orjson.dumps(record.path),
                        b',"data":',
                        record.body,
                        b',"version":%d,"last_updated_ms":%d,"expires_at_ms":%d,"hits":%d}\n'
                        % (record.version, record.last_updated, record.expires_at, record.hits),
                    )
                )
            if len(records) < BATCH:
                break
            after = records[-1].path


def _owner(kind: str, value: bytes) -> str | None:
    """The tenant an account record belongs to (None for an admin token)."""
    return Tenant.load(value).name if kind == "tenant" else Token.load(value).tenant


def parse_account(item: dict[str, object]) -> tuple[str, str, bytes]:
    """(kind, key, value) of an account line, its value checked by loading it."""
    kind, key, value = item.get("account"), item.get("key"), item.get("value")
    if kind not in ACCOUNT_KINDS or not isinstance(key, str) or not isinstance(value, dict):
        raise InvalidDocument("not an export line: an account line needs account, key, value")
    raw = orjson.dumps(value)
    try:
        loaded = Tenant.load(raw) if kind == "tenant" else Token.load(raw)
    except (BadRequest, ValueError, KeyError, TypeError) as exc:
        raise InvalidDocument(f"not an export line: a bad {kind} record ({exc})") from None
    if (loaded.name if isinstance(loaded, Tenant) else loaded.id) != key:
        raise InvalidDocument(f"not an export line: the {kind}'s key differs from its record")
    return str(kind), key, raw


def parse_line(line: bytes) -> tuple[Namespace, Record]:
    try:
        item = parse_json(line)  # integers beyond 64 bits stay exact
        data = item["data"]
        if not isinstance(data, dict):
            raise InvalidDocument("'data' must be a JSON object")
        body = encode(data)
        path = normalize(item["path"].encode("utf-8"))
        fields = [item[k] for k in ("version", "last_updated_ms", "expires_at_ms", "hits")]
        ns = Namespace(item["namespace"]) if "namespace" in item else DEFAULT
    except (BadRequest, PathTooLong) as exc:
        raise InvalidDocument(f"not an export line: {exc.detail}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidDocument(f"not an export line: {exc}") from None
    if not all(isinstance(v, int) and v >= 0 for v in fields) or fields[0] < 1:
        raise InvalidDocument("version, times and hits must be non-negative integers")
    if any(v >= LARGEST for v in fields):
        # Every engine keeps these in signed 64-bit integers.
        raise InvalidDocument(f"version, times and hits must be below 2^63 ({LARGEST})")
    version, last_updated, expires_at, hits = fields
    return ns, Record(path, body, version, digest(body), last_updated, expires_at, hits)


@dataclass
class ImportReport:
    restored: int = 0
    """Lines written to the store."""
    skipped: int = 0
    """Lines left alone: the store holds that version or a newer one (or it has expired)."""
    accounts: int = 0
    """Tenants and tokens written (an account line always replaces the stored one)."""
    refused: list[tuple[int, str]] = field(default_factory=list)
    """Lines that are not export lines: (line number, why)."""


async def import_lines(
    store: Store, lines: Iterable[bytes], now: int, report: ImportReport | None = None
) -> ImportReport:
    """Restore every export line; a line that is not one is refused (noted in the report)
    and the import goes on. A store failure stops it, the report saying how far it got."""
    report = report if report is not None else ImportReport()
    batch: list[tuple[Namespace, Record]] = []

    async def land() -> None:
        if not batch:
            return
        for restored in await store.restore_many(batch, now):
            if restored:
                report.restored += 1
            else:
                report.skipped += 1
        batch.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if line.startswith(b'{"account"'):
                kind, key, value = parse_account(orjson.loads(line))
                await store.account_put(kind, key, value)
                report.accounts += 1
                continue
            batch.append(parse_line(line))
        except (InvalidDocument, orjson.JSONDecodeError) as exc:
            report.refused.append((number, getattr(exc, "detail", f"not JSON: {exc}")))
            continue
        if len(batch) >= RESTORE_BATCH:
            await land()
    await land()
    return report

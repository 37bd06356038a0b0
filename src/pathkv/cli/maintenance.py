"""Maintenance commands that work on a store directly: sweep, export, import.

Each reports as one line: what it did as JSON on completion, or why it could not, without a
traceback (a missing file, a closed pipe, a store that is not there).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import BinaryIO, cast

from pathkv.cli import CliError, accounts
from pathkv.config import Settings
from pathkv.core.backup import ImportReport, export_lines, import_lines
from pathkv.core.contract import Store
from pathkv.core.service import Policy, Service, now_ms
from pathkv.stores.registry import open_store

Command = Callable[[Store, argparse.Namespace], Awaitable[int]]
# Refused lines named one by one on stderr, at most; the summary counts them all.
SHOWN_REFUSALS = 20


async def with_store(settings: Settings, command: Command, args: argparse.Namespace) -> int:
    """Run command on the store. Only import and the first tenant or token may create it:
    sweep and export on a mistyped path must fail rather than create an empty database."""
    creates = command is _import or getattr(args, "action", None) in ("put", "create")
    store = open_store(settings, create=creates)
    args.settings = settings
    await store.open()
    try:
        await store.ping()
        return await command(store, args)
    finally:
        await store.close()


def _open(name: str, mode: str, standard: BinaryIO) -> BinaryIO:
    if name == "-":
        return standard
    try:
        return cast(BinaryIO, open(name, mode))
    except OSError as exc:
        raise CliError(f"cannot open {name}: {exc.strerror or exc}") from None


async def _sweep(store: Store, args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    service = Service(
        store,
        Policy(
            changes_max_age=settings.changes_max_age,
            changes_max_events=settings.changes_max_events,
        ),
    )
    total = 0
    began = time.perf_counter()
    while (removed := await service.sweep(1000)) > 0:
        total += removed
    print(f'{{"removed": {total}, "seconds": {time.perf_counter() - began:.3f}}}')
    return 0


async def _export(store: Store, args: argparse.Namespace) -> int:
    count = 0
    out = _open(args.output, "wb", sys.stdout.buffer)
    try:
        async for line in export_lines(store, now_ms()):
            out.write(line)
            count += 1
        out.flush()
        if out is not sys.stdout.buffer:
            os.fsync(out.fileno())
    except BrokenPipeError:
        # The reader stopped (`pathkv export | head`): that is its choice, not an error.
        # Python would try to flush stdout again at exit; point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f'{{"exported": {count}}}', file=sys.stderr)
    return 0


async def _import(store: Store, args: argparse.Namespace) -> int:
    source = _open(args.input, "rb", sys.stdin.buffer)
    report = ImportReport()
    try:
        await import_lines(store, source, now_ms(), report)
    except OSError as exc:
        raise CliError(f"cannot read {args.input}: {exc.strerror or exc}") from None
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        for number, why in report.refused[:SHOWN_REFUSALS]:
            print(f"pathkv: line {number} refused: {why}", file=sys.stderr)
        refused = [number for number, _ in report.refused]
        print(
            f'{{"restored": {report.restored}, "skipped": {report.skipped}, '
            f'"accounts": {report.accounts}, '
            f'"refused": {len(refused)}, "refused_lines": {refused[:1000]}}}',
            file=sys.stderr,
        )
    return 1 if refused else 0


COMMANDS: dict[str, Command] = {
    "sweep": _sweep,
    "export": _export,
    "import": _import,
    "tenant": accounts.tenant,
    "token": accounts.token,
}

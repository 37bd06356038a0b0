"""Maintenance commands that work on a store directly: sweep, export, import."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable

from pathkv.config import Settings
from pathkv.core.backup import export_lines, import_lines
from pathkv.core.contract import Store
from pathkv.core.service import Policy, Service, now_ms
from pathkv.stores.registry import open_store

Command = Callable[[Store, argparse.Namespace], Awaitable[int]]


async def with_store(settings: Settings, command: Command, args: argparse.Namespace) -> int:
    """Run command on the store. Only import may create it: sweep and export on a mistyped
    path must fail rather than create an empty database."""
    store = open_store(settings, create=command is _import)
    await store.open()
    try:
        await store.ping()
        return await command(store, args)
    finally:
        await store.close()


async def _sweep(store: Store, args: argparse.Namespace) -> int:
    service = Service(store, Policy())
    total = 0
    while (removed := await service.sweep(1000)) > 0:
        total += removed
    print(f'{{"removed": {total}}}')
    return 0


async def _export(store: Store, args: argparse.Namespace) -> int:
    count = 0
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115, ASYNC230 (one-shot command)
    try:
        async for line in export_lines(store, now_ms()):
            out.write(line)
            count += 1
        out.flush()
        if out is not sys.stdout.buffer:
            os.fsync(out.fileno())
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f'{{"exported": {count}}}', file=sys.stderr)
    return 0


async def _import(store: Store, args: argparse.Namespace) -> int:
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115, ASYNC230 (one-shot command)
    try:
        report = await import_lines(store, source, now_ms())
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    print(f'{{"restored": {report.restored}, "skipped": {report.skipped}}}', file=sys.stderr)
    return 0


COMMANDS: dict[str, Command] = {"sweep": _sweep, "export": _export, "import": _import}

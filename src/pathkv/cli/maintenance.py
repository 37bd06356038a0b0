"""Maintenance commands that work on a store directly: sweep, export, import.

Each reports as one line: what it did as JSON on completion, or why it could not, without a
traceback (a missing file, a closed pipe, a store that is not there). On a terminal, export
and import show their progress on stderr (documents, rate, time left); in a pipe they stay
quiet until the summary.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO, cast

from pathkv.cli.output import CliError, silence_stdout
from pathkv.cli.progress import Meter
from pathkv.config import Settings
from pathkv.core.backup import ImportReport, export_lines, import_lines
from pathkv.core.contract import Store
from pathkv.core.service import Policy, Service, now_ms

# Refused lines named one by one on stderr, at most; the summary counts them all.
SHOWN_REFUSALS = 20


def _open(name: str, mode: str, standard: BinaryIO) -> BinaryIO:
    if name == "-":
        return standard
    try:
        return cast(BinaryIO, open(name, mode))
    except OSError as exc:
        raise CliError(f"cannot open {name}: {exc.strerror or exc}") from None


async def sweep(store: Store, settings: Settings) -> int:
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


async def export(store: Store, output: str) -> int:
    count = 0
    out = _open(output, "wb", sys.stdout.buffer)
    meter = Meter("exported", "documents")
    if meter.shown:
        namespaces = await store.namespaces()
        meter.total = sum([(await store.usage(ns)).documents for ns in namespaces])
    try:
        with meter:
            async for line in export_lines(store, now_ms()):
                out.write(line)
                count += 1
                meter.advance(1)
        out.flush()
        if out is not sys.stdout.buffer:
            os.fsync(out.fileno())
    except BrokenPipeError:
        silence_stdout()
        return 0
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f'{{"exported": {count}}}', file=sys.stderr)
    return 0


def _metered(source: BinaryIO, meter: Meter) -> Iterator[bytes]:
    for line in source:
        meter.advance(len(line))
        yield line


async def import_(store: Store, input_name: str) -> int:
    source = _open(input_name, "rb", sys.stdin.buffer)
    report = ImportReport()
    meter = Meter("imported", "bytes")
    if meter.shown:
        try:
            size = os.fstat(source.fileno()).st_size
        except (OSError, ValueError):
            size = 0
        meter.total = size or None
    try:
        with meter:
            await import_lines(store, _metered(source, meter), now_ms(), report)
    except OSError as exc:
        raise CliError(f"cannot read {input_name}: {exc.strerror or exc}") from None
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

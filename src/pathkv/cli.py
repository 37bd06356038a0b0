"""The ``pathkv`` command: serve, sweep, export, import, --version."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pathkv import __version__
from pathkv.config import CPU_LOCK_DIR_ENV, DRAIN_FILE_ENV, ConfigError, Settings
from pathkv.core.backup import export_lines, import_lines
from pathkv.core.errors import Problem
from pathkv.core.service import now_ms
from pathkv.stores.contract import Store, StoreError
from pathkv.stores.registry import open_store

T = TypeVar("T")


class CliError(Exception):
    """A failure to report as one line and a non-zero exit."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pathkv", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pathkv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--pin-workers", action="store_true", default=None,
                       help="pin each worker to a CPU of its own (machines dedicated to pathkv)")
    serve.add_argument("--store", help="store URL (default: sqlite file in the data directory)")

    for name, text in (("sweep", "remove expired documents now"),
                       ("export", "write every live document as JSON Lines"),
                       ("import", "read JSON Lines written by export")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--store", help="store URL")
        if name == "export":
            command.add_argument("--output", "-o", default="-", help="file (default stdout)")
        if name == "import":
            command.add_argument("--input", "-i", default="-", help="file (default stdin)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(**{
            k: getattr(args, k, None) for k in ("host", "port", "workers", "pin_workers", "store")
        })
        if args.command == "serve":
            return serve(settings)
        return asyncio.run(_with_store(settings, COMMANDS[args.command], args))
    except (ConfigError, CliError, StoreError) as exc:
        print(f"pathkv: error: {exc}", file=sys.stderr)
        return 2
    except Problem as exc:
        print(f"pathkv: error: {exc.detail}", file=sys.stderr)
        return 1


async def _with_store(
    settings: Settings, command: Callable[[Store, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    store = open_store(settings)
    await store.open()
    try:
        await store.ping()
        return await command(store, args)
    finally:
        await store.close()


async def _sweep(store: Store, args: argparse.Namespace) -> int:
    total = 0
    while (removed := await store.sweep(now_ms(), 1000)) > 0:
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


COMMANDS: dict[str, Callable[[Store, argparse.Namespace], Awaitable[int]]] = {
    "sweep": _sweep, "export": _export, "import": _import,
}


def _check_store(settings: Settings) -> None:
    """Fail at start, with one line, on a store the workers could not open."""
    async def check() -> None:
        store = open_store(settings)
        if settings.store.startswith("sqlite:"):
            await store.open()
            await store.close()

    asyncio.run(check())


def serve(settings: Settings) -> int:
    # Nothing here may import prometheus_client before PROMETHEUS_MULTIPROC_DIR is set:
    # workers are forked and keep the value class chosen at its import.
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    _check_store(settings)
    runtime = Path(tempfile.mkdtemp(prefix="pathkv-"))
    drain_file = runtime / "draining"
    os.environ.update(settings.to_env())
    os.environ[DRAIN_FILE_ENV] = str(drain_file)
    if settings.pin_workers:
        os.environ[CPU_LOCK_DIR_ENV] = str(runtime)
    if settings.workers > 1:
        metrics_dir = runtime / "metrics"
        metrics_dir.mkdir()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))

    server: Any = Server(
        "pathkv.web.asgi:create",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        # Not "auto": granian picks rloop whenever it happens to be installed; measured
        # here, rloop kept a cancelled timer's callback (and so its finished request task)
        # alive until the timer's deadline, and collector pauses grew to 30 ms.
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
        workers=settings.workers,
        factory=True,
        log_level=LogLevels.warning,
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.header_timeout * 1000),
                                     max_buffer_size=64 * 1024),
        workers_kill_timeout=30,
    )
    stop = server.signal_handler_interrupt

    def drain_then_stop(signum: int, frame: Any) -> None:
        """Readiness answers 503 at once; the server stops accepting after shutdown_delay."""
        drain_file.touch()
        delay = settings.shutdown_delay if signum == signal.SIGTERM else 0
        threading.Timer(delay, stop).start()

    server.signal_handler_interrupt = drain_then_stop
    try:
        server.serve()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The entry point ASGI servers import: ``pathkv.web.asgi:create`` (a factory).

Settings come from ``PATHKV_*`` variables; ``pathkv serve`` sets them for its workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from pathkv.config import CPU_LOCK_DIR_ENV, DRAIN_FILE_ENV, PARENT_PID_ENV, Settings
from pathkv.web.app import App, create_app
from pathkv.web.process import WorkerProcess

log = logging.getLogger("pathkv")


def drain_flag(marker: str | None) -> Callable[[], bool]:
    """True once the serving process has created the marker file (after SIGTERM)."""
    if not marker:
        return lambda: False
    return lambda: os.path.exists(marker)


def worker_process(
    settings: Settings,
    lock_dir: str | None,
    parent: str | None = None,
    drain_file: str | None = None,
) -> WorkerProcess:
    """What a serving worker applies to its own process once the app has started."""
    if settings.pin_workers and not lock_dir:
        log.warning("PATHKV_PIN_WORKERS works under `pathkv serve` only; not pinned")
    return WorkerProcess(
        Path(lock_dir) if settings.pin_workers and lock_dir else None,
        parent_pid=int(parent) if parent else None,
        runtime_dir=Path(drain_file).parent if drain_file else None,
        port=settings.port if parent else None,
        idle_timeout=settings.idle_timeout,
    )


def create() -> App:
    settings = Settings.from_env()
    drain_file = os.environ.get(DRAIN_FILE_ENV)
    return create_app(
        settings,
        draining=drain_flag(drain_file),
        process=worker_process(
            settings, os.environ.get(CPU_LOCK_DIR_ENV), os.environ.get(PARENT_PID_ENV), drain_file
        ),
    )

"""The entry point ASGI servers import: ``pathkv.web.asgi:create`` (a factory).

Settings come from ``PATHKV_*`` variables; ``pathkv serve`` sets them for its workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pathkv.config import DRAIN_FILE_ENV, Settings
from pathkv.web.app import App, create_app


def drain_flag(marker: str | None) -> Callable[[], bool]:
    """True once the serving process has created the marker file (after SIGTERM)."""
    if not marker:
        return lambda: False
    return lambda: os.path.exists(marker)


def create() -> App:
    return create_app(Settings.from_env(), draining=drain_flag(os.environ.get(DRAIN_FILE_ENV)),
                      tune_gc=True)

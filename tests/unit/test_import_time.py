"""Nothing is connected or started at import time (the layering itself is checked by
import-linter: the contracts in pyproject.toml, run by scripts/test)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_app_opens_nothing() -> None:
    code = (
        "import sys, threading; import pathkv.web.asgi, pathkv.cli, pathkv.cli.serve; "
        "assert threading.active_count() == 1, threading.enumerate(); "
        "assert 'glide' not in sys.modules and 'sqlite3' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

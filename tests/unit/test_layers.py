"""The layering of the package, checked: the core knows no HTTP and no storage engine, stores
know no HTTP and not each other, and nothing is connected at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "pathkv"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_core_imports_no_http_and_no_engine() -> None:
    forbidden = ("pathkv.web", "pathkv.stores.sqlite", "pathkv.stores.redis", "pathkv.cli",
                 "granian", "glide", "sqlite3", "prometheus_client", "asyncio")
    for module in (SRC / "core").glob("*.py"):
        for name in imports_of(module):
            assert not name.startswith(forbidden), f"{module.name} imports {name}"


def test_stores_know_no_http_and_not_each_other() -> None:
    for module in (SRC / "stores").glob("*.py"):
        names = imports_of(module)
        assert not any(n.startswith(("pathkv.web", "granian", "pathkv.cli")) for n in names)
        if module.stem.startswith("redis"):
            assert "pathkv.stores.sqlite" not in names and "sqlite3" not in names
        if module.stem == "sqlite":
            assert not any(n.startswith(("pathkv.stores.redis", "glide")) for n in names)


def test_importing_the_app_opens_nothing() -> None:
    code = ("import sys, threading; import pathkv.web.asgi, pathkv.cli; "
            "assert threading.active_count() == 1, threading.enumerate(); "
            "assert 'glide' not in sys.modules and 'sqlite3' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

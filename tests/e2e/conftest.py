from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import PathkvServer


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[PathkvServer]:
    server = PathkvServer(f"sqlite:///{tmp_path / 'e2e.db'}", log=tmp_path / "server.log")
    server.start()
    yield server
    if server.proc is not None:
        server.stop()

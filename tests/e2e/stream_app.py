"""pathkv's app with two extra streaming routes, served by granian in tests of streams.

``/-/test/stream?limit=N`` sends N chunks, 20 ms apart; ``/-/test/flood`` sends 64 KiB
chunks as fast as the client takes them. Each notes in ``$STREAM_TEST_DIR`` how many chunks
it produced and whether it was closed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from pathkv.config import Settings
from pathkv.web.app import App, create_app
from pathkv.web.request import Request
from pathkv.web.responses import Response
from pathkv.web.router import Route


def _notes(name: str) -> Path:
    return Path(os.environ["STREAM_TEST_DIR"]) / name


async def _chunks(name: str, count: int, size: int, pause: float) -> AsyncIterator[bytes]:
    produced = 0
    try:
        while produced < count:
            produced += 1
            _notes(name + ".produced").write_text(str(produced))
            yield b"%06d" % produced + b"x" * (size - 7) + b"\n"
            await asyncio.sleep(pause)
    finally:
        _notes(name + ".closed").write_text(str(produced))


async def stream(request: Request) -> Response:
    limit = request.integer("limit") or 1_000_000
    return Response(200, content_type=b"text/plain", stream=_chunks("stream", limit, 16, 0.02))


async def flood(request: Request) -> Response:
    return Response(
        200,
        content_type=b"application/octet-stream",
        stream=_chunks("flood", 1_000_000, 64 * 1024, 0),
    )


def create() -> App:
    app = create_app(Settings.from_env())
    app.router.add(Route.read_only("/-/test/stream", stream, ("limit",)))
    app.router.add(Route.read_only("/-/test/flood", flood))
    return app

"""Helpers for objects that serve one event loop."""

from __future__ import annotations

import asyncio


class LoopBound:
    """Remembers the loop an object serves once it is known (``bind``).

    Tuning: in CPython 3.11 ``asyncio.get_running_loop()`` makes a getpid system call every
    time; objects on the hot path (request batches, body deadlines) are bound to the serving
    loop at start and skip that lookup per call. Unbound, they look the loop up as usual.
    """

    _loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

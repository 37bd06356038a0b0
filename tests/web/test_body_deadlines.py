"""Body reads: the deadline fires for a stalled body, and only for it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pathkv.core.errors import RequestTimeout
from pathkv.web.deadlines import Deadlines
from pathkv.web.request import read_body

HEADERS = {b"content-length": b"4"}


def stalled_after(chunks: list[bytes]) -> Any:
    """A receive callable that hands out chunks, then waits forever."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


async def test_a_stalled_body_times_out() -> None:
    deadlines = Deadlines(interval=0.05)
    started = time.monotonic()
    with pytest.raises(RequestTimeout):
        await read_body(stalled_after([b"{"]), HEADERS, 100, deadlines, 0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    # The task is usable afterwards: the timeout's cancellation was taken back.
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    await asyncio.sleep(0)


async def test_a_body_in_pieces_within_the_deadline_is_read_whole() -> None:
    deadlines = Deadlines(interval=0.05)
    body = await read_body(stalled_after([b"{", b"}", b"  "]), HEADERS, 100, deadlines, 5)
    assert body == b"{}  "
    assert not deadlines._due and not deadlines._expired


async def test_cancelling_the_request_is_not_a_timeout() -> None:
    deadlines = Deadlines(interval=0.05)
    task = asyncio.create_task(read_body(stalled_after([]), HEADERS, 100, deadlines, 5))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadlines._due and not deadlines._expired


async def test_many_reads_share_one_watcher() -> None:
    deadlines = Deadlines(interval=0.05)
    reads = [read_body(stalled_after([b"{"]), HEADERS, 100, deadlines, 0.1) for _ in range(50)]
    results = await asyncio.gather(*reads, return_exceptions=True)
    assert all(isinstance(result, RequestTimeout) for result in results)
    assert not deadlines._due and not deadlines._expired

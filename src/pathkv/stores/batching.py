"""Automatic batching of concurrent store calls into one round trip.

Tuning (measured in bench/findings.md): every call made during one turn of the event loop
joins the same batch; the batch is sent
when the loop next gets round to it (``call_soon``), with no timer: under light load a batch
holds one call and adds no delay, under heavy load it amortizes the client's per-call cost
over many requests. Several batches may be in flight at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from pathkv.aio import LoopBound

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(LoopBound, Generic[Item, Result]):
    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        max_size: int = 128,
    ) -> None:
        self._run = run
        self._max_size = max_size
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, item: Item) -> asyncio.Future[Result]:
        loop = self.loop()
        future: asyncio.Future[Result] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((item, future))
        return future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self._max_size):
            task = asyncio.ensure_future(self._send(pending[start : start + self._max_size]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:
            # Every caller re-raises it; its traceback would tie this frame, the batch and
            # the futures into a cycle only the garbage collector could free.
            exc.__traceback__ = None
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

"""Deadlines for request-body reads, enforced by one periodic check.

Tuning: a timer per request (``asyncio.timeout``) cost about a tenth of the CPU of a small PUT, and
a body nearly always arrives with its headers. Instead, a read notes when it must end and
one watcher task, waking every ``interval`` seconds while reads are pending, cancels the
late ones: a deadline fires up to ``interval`` late, which is fine for a timeout of seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pathkv.aio import LoopBound

Task = asyncio.Task[Any]


class Deadlines(LoopBound):
    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._due: dict[Task, float] = {}
        self._expired: set[Task] = set()
        self._watcher: asyncio.Task[None] | None = None

    def start(self, seconds: float) -> Task:
        """Give the current task `seconds` to reach ``finish``; returns that task."""
        loop = self.loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        self._due[task] = time.monotonic() + seconds
        if self._watcher is None or self._watcher.get_loop() is not loop:
            self._watcher = loop.create_task(self._watch())
        return task

    def finish(self, task: Task) -> bool:
        """End the deadline of task; True when it had passed (and cancelled the task)."""
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            task.uncancel()
            return True
        return False

    async def _watch(self) -> None:
        try:
            while self._due:
                await asyncio.sleep(self._interval)
                now = time.monotonic()
                for task in [t for t, due in self._due.items() if due <= now]:
                    del self._due[task]
                    self._expired.add(task)
                    task.cancel()
        finally:
            if self._watcher is asyncio.current_task():
                self._watcher = None

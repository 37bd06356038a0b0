"""Fan-out of the change feed to the watchers of one worker.

One reader per worker (``FeedHub._pump``) follows the store's feed and hands each change to
the watchers it concerns; a write through any worker or replica reaches them all, since the
feed is in the store. The reader never waits on a watcher: each has a bounded buffer, and a
watcher that lets it overflow is told so (it gets ``reset`` and its stream ends). The reader
runs while there are watchers.

Nothing is lost between a watcher's catch-up and the live changes: a watcher joins (and the
reader has its starting position) before it reads what it missed from the store, so every
change after that read comes through the reader, and positions drop what came both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pathkv.core.contract import Change, Position, Store
from pathkv.core.feed import Selection, sse_event

log = logging.getLogger("pathkv")

# Tuning: changes read from the store at a time, and how long the reader waits for one.
READ_BATCH = 500
READ_WAIT = 1.0
# Tuning: after a read that was not full, the reader lets changes gather this long before
# the next: under a steady stream of writes, one read per worker per 10 ms rather than one
# per write (measured with bench/watch.py: the writers lost a third of their throughput to
# the readers of 2 workers without it), for at most 10 ms more latency.
GATHER = 0.01
# After a failed read of the feed, the reader tries again after this long.
RETRY_PAUSE = 0.5


class Watcher:
    """One open watch (or one long-poll waiting): what it follows, and what has arrived."""

    __slots__ = ("_buffer", "_sent", "_wake", "ended", "overflowed", "pending", "selection")

    def __init__(self, selection: Selection, buffer: int) -> None:
        self.selection = selection
        self._buffer = buffer
        self.pending: list[tuple[Position, bytes]] = []
        self.overflowed = False
        self.ended = False
        self._wake = asyncio.Event()
        self._sent = time.monotonic()

    def end(self) -> None:
        """The server is stopping: the stream ends, so its client resumes elsewhere."""
        self.ended = True
        self._wake.set()

    def touch(self) -> None:
        """Something was just sent to this watcher's client."""
        self._sent = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self._sent

    def offer(self, position: Position, frame: bytes) -> None:
        if len(self.pending) >= self._buffer:
            self.overflowed = True
        else:
            self.pending.append((position, frame))
        self._wake.set()

    async def wait(self, seconds: float) -> bool:
        """True when something arrived (or the buffer overflowed, or the stream must end)
        within seconds."""
        if self.pending or self.overflowed or self.ended:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        return bool(self.pending) or self.overflowed or self.ended

    def take(self, after: Position) -> tuple[list[bytes], Position]:
        """The frames of changes after a position, and the position of the last."""
        frames = []
        for position, frame in self.pending:
            if position > after:
                frames.append(frame)
                after = position
        self.pending.clear()
        self._wake.clear()
        return frames, after


class FeedHub:
    def __init__(self, store: Store, draining: Callable[[], bool], drain_delay: float) -> None:
        self.store = store
        self._draining = draining
        self._drain_delay = drain_delay
        self._drain_seen: float | None = None
        # Watchers by what they follow: (namespace, path) for one path, and per namespace by
        # prefix, so a change finds its watchers without looking at the others.
        self._by_path: dict[tuple[str, str], set[Watcher]] = {}
        self._by_prefix: dict[str, dict[str, set[Watcher]]] = {}
        self._count = 0
        self._pump_task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    def ending(self) -> bool:
        """True once open streams should end: the drain delay has passed since SIGTERM, so
        their clients reconnect (to a replica that is not stopping) and resume."""
        if not self._draining():
            return False
        now = time.monotonic()
        if self._drain_seen is None:
            self._drain_seen = now
        return now - self._drain_seen >= self._drain_delay

    async def join(self, watcher: Watcher) -> None:
        """Deliver to watcher every change the reader reads from now on; returns once the
        reader has its position, so that what watcher then reads from the store overlaps
        what it will be given."""
        selection = watcher.selection
        if selection.path is not None:
            self._by_path.setdefault((selection.namespace, selection.path), set()).add(watcher)
        else:
            prefixes = self._by_prefix.setdefault(selection.namespace, {})
            prefixes.setdefault(selection.prefix, set()).add(watcher)
        self._count += 1
        if self._pump_task is None or self._pump_task.done():
            self._started.clear()
            self._pump_task = asyncio.create_task(self._pump())
        try:
            async with asyncio.timeout(READ_WAIT + 10):
                await self._started.wait()
        except BaseException:
            self.leave(watcher)
            raise

    def leave(self, watcher: Watcher) -> None:
        selection = watcher.selection
        if selection.path is not None:
            key = (selection.namespace, selection.path)
            group = self._by_path.get(key)
            if group is None or watcher not in group:
                return
            group.discard(watcher)
            if not group:
                del self._by_path[key]
        else:
            prefixes = self._by_prefix.get(selection.namespace, {})
            group = prefixes.get(selection.prefix)
            if group is None or watcher not in group:
                return
            group.discard(watcher)
            if not group:
                del prefixes[selection.prefix]
                if not prefixes:
                    del self._by_prefix[selection.namespace]
        self._count -= 1

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None

    async def _pump(self) -> None:
        position: Position | None = None
        while self._count:
            try:
                if position is None:
                    position = await self.store.present()
                    self._started.set()
                changes = await self.store.next_changes(position, READ_BATCH, READ_WAIT)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("reading the change feed failed; retrying", exc_info=True)
                await asyncio.sleep(RETRY_PAUSE)
                continue
            if changes:
                self._dispatch(changes)
                position = changes[-1].position
            if self.ending():
                self._end_all()
            if changes and len(changes) < READ_BATCH:
                await asyncio.sleep(GATHER)

    def _end_all(self) -> None:
        groups = [*self._by_path.values()]
        for prefixes in self._by_prefix.values():
            groups += prefixes.values()
        for group in groups:
            for watcher in group:
                watcher.end()

    def _concerned(self, change: Change) -> list[set[Watcher]]:
        """The groups of watchers whose path or prefix covers the change's path."""
        path = change.path
        groups = []
        exact = self._by_path.get((change.namespace, path)) if self._by_path else None
        if exact:
            groups.append(exact)
        prefixes = self._by_prefix.get(change.namespace)
        if prefixes:
            # Tuning: whichever is fewer, the prefixes watched or the prefixes of the path.
            if len(prefixes) <= len(path):
                groups += [group for prefix, group in prefixes.items() if path.startswith(prefix)]
            else:
                for end in range(1, len(path) + 1):
                    group = prefixes.get(path[:end])
                    if group:
                        groups.append(group)
        return groups

    def _dispatch(self, changes: list[Change]) -> None:
        for change in changes:
            frame: bytes | None = None
            for group in self._concerned(change):
                # The group's path or prefix covers the change: only the token is left.
                for watcher in group:
                    if watcher.selection.readable(change.path):
                        if frame is None:
                            frame = sse_event(change)
                        watcher.offer(change.position, frame)

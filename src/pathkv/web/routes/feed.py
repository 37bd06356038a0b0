"""The change feed over HTTP: ``/-/watch`` (Server-Sent Events) and ``/-/changes``
(long-poll), for a prefix or one path of the caller's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from pathkv.core.contract import Change, CursorExpired, Position, Store
from pathkv.core.errors import ExpiredCursor, InvalidParameter
from pathkv.core.feed import (
    Selection,
    decode_position,
    encode_position,
    item_json,
    sse_control,
    sse_event,
)
from pathkv.core.namespaces import Namespace
from pathkv.core.paths import ROOT, normalize
from pathkv.web.feed import FeedHub, Watcher
from pathkv.web.request import Request
from pathkv.web.responses import Response, json_response

EVENT_STREAM = b"text/event-stream"
# Tuning: changes read from the store per step of a catch-up.
CATCH_UP_BATCH = 500
# The longest long-poll, and the largest page.
MAX_WAIT = 60
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# What EventSource clients wait before reconnecting (the retry: field), in milliseconds.
RETRY_MS = 2000


class Feed:
    def __init__(self, store: Store, hub: FeedHub, heartbeat: float, buffer: int) -> None:
        self.store = store
        self.hub = hub
        self._heartbeat = heartbeat
        self._buffer = buffer

    def _selection(self, request: Request) -> Selection:
        query = request.query if request.scope.get("query_string") else {}
        prefix, path = query.get("prefix"), query.get("path")
        if prefix is not None and path is not None:
            raise InvalidParameter("give 'prefix' or 'path', not both")
        if path is not None:
            if not path.startswith("/"):
                raise InvalidParameter("'path' must start with '/'")
            return Selection(
                request.namespace.name,
                path=normalize(path.encode("utf-8")),
                principal=request.principal,
            )
        prefix = ROOT if prefix is None else prefix
        if not prefix.startswith("/"):
            raise InvalidParameter("'prefix' must start with '/'")
        return Selection(request.namespace.name, prefix=prefix, principal=request.principal)

    async def _missed(
        self, selection: Selection, after: Position, limit: int
    ) -> tuple[list[Change], Position]:
        """Selected changes after a position, from the store, at most limit; and the
        position read up to. Raises CursorExpired."""
        found: list[Change] = []
        ns = Namespace(selection.namespace)
        while len(found) < limit:
            batch = await self.store.changes(after, CATCH_UP_BATCH, ns)
            for change in batch:
                if selection.covers(change):
                    found.append(change)
                    if len(found) == limit:
                        return found, change.position
            if batch:
                after = batch[-1].position
            if len(batch) < CATCH_UP_BATCH:
                break
        return found, after

    # SSE -------------------------------------------------------------------------------

    async def watch(self, request: Request) -> Response:
        selection = self._selection(request)
        cursor = request.header(b"last-event-id")
        query = request.query if request.scope.get("query_string") else {}
        if cursor is None or not cursor.strip():
            cursor = query.get("since")
        since = decode_position(cursor, "Last-Event-ID / since") if cursor else None
        watcher = Watcher(selection, self._buffer)
        await self.hub.join(watcher)
        headers = [(b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]
        return Response(
            200,
            content_type=EVENT_STREAM,
            headers=headers,
            stream=self._events(watcher, since),
            cacheable=True,
        )

    async def _events(self, watcher: Watcher, since: Position | None) -> AsyncIterator[bytes]:
        try:
            opening = b"retry: %d\n\n" % RETRY_MS
            position: Position
            if since is None:
                position = await self.store.present()
            else:
                try:
                    missed, position = await self._missed(watcher.selection, since, 1 << 62)
                except CursorExpired:
                    opening += sse_control(
                        "reset",
                        "the cursor is older than the changes kept; list again, then follow on",
                    )
                    missed, position = [], await self.store.present()
                if missed:
                    opening += b"".join(sse_event(change) for change in missed)
            yield opening
            while True:
                # No polling: the reader wakes the watcher for changes, and to end it when
                # the server stops (web/feed.py); otherwise it sleeps until a heartbeat.
                arrived = await watcher.wait(self._heartbeat - watcher.idle_for())
                if watcher.ended:
                    return
                if watcher.overflowed:
                    yield sse_control("reset", "this watcher fell too far behind; list again")
                    return
                if not arrived:
                    if watcher.idle_for() >= self._heartbeat:
                        watcher.touch()
                        yield b": ping\n\n"
                    continue
                frames, position = watcher.take(position)
                if frames:
                    watcher.touch()
                    yield b"".join(frames)
        finally:
            self.hub.leave(watcher)

    # long-poll -------------------------------------------------------------------------

    async def changes(self, request: Request) -> Response:
        selection = self._selection(request)
        query = request.query if request.scope.get("query_string") else {}
        wait = request.integer("wait") if "wait" in query else 0
        limit = request.integer("limit") if "limit" in query else DEFAULT_LIMIT
        if wait is None or not 0 <= wait <= MAX_WAIT:
            raise InvalidParameter(f"'wait' must be a whole number of seconds from 0 to {MAX_WAIT}")
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise InvalidParameter(f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
        since = query.get("since")
        if not since:
            present = await self.store.present()
            return json_response(200, {"items": [], "next": encode_position(present)})
        after = decode_position(since)
        watcher = Watcher(selection, self._buffer)
        await self.hub.join(watcher)
        try:
            found = await self._page(selection, after, limit)
            if not found and wait > 0 and await watcher.wait(wait) and not watcher.overflowed:
                found = await self._page(selection, after, limit)
        finally:
            self.hub.leave(watcher)
        items = b",".join(item_json(change, with_id=True) for change in found)
        next_cursor = encode_position(found[-1].position) if found else since
        body = b'{"items":[%s],"next":%s}\n' % (items, orjson.dumps(next_cursor))
        return Response(200, body)

    async def _page(self, selection: Selection, after: Position, limit: int) -> list[Change]:
        try:
            found, _ = await self._missed(selection, after, limit)
        except CursorExpired:
            raise ExpiredCursor(
                "the cursor is older than the changes kept (PATHKV_CHANGES_MAX_AGE, "
                "PATHKV_CHANGES_MAX_EVENTS): list again, then follow from the present "
                "(/-/changes without since)"
            ) from None
        return found

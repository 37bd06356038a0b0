"""Sending a response over ASGI: a whole body at once, or a stream chunk by chunk.

A stream goes out as the client takes it: each ``send`` waits for the server to accept the
chunk (backpressure), and the stream ends when its iterator does, or as soon as the client
goes away (``http.disconnect`` on receive, or a failed send), with the iterator closed so
whatever it holds is released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pathkv.web.request import Receive
from pathkv.web.responses import Response

Send = Callable[[dict[str, Any]], Awaitable[None]]


def head_of(response: Response) -> dict[str, Any]:
    headers = response.headers
    if response.content_type is not None:
        headers.append((b"content-type", response.content_type))
    if response.stream is None and response.status not in (204, 304):
        headers.append((b"content-length", b"%d" % len(response.body)))
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def deliver(send: Send, receive: Receive, method: str, response: Response) -> int:
    """Send response; returns the body bytes sent."""
    await send(head_of(response))
    if response.stream is not None:
        if method == "HEAD":
            await _close(response.stream)
            await send({"type": "http.response.body", "body": b""})
            return 0
        return await _stream(send, receive, response.stream)
    body = b"" if method == "HEAD" or response.status in (204, 304) else response.body
    await send({"type": "http.response.body", "body": body})
    return len(body)


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _close(chunks: AsyncIterator[bytes]) -> None:
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


async def _until_gone(work: Awaitable[Any], gone: asyncio.Future[None]) -> tuple[bool, Any]:
    """Await work unless the client goes away first: (True, result) or (False, None)."""
    task = asyncio.ensure_future(work)
    await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    if not gone.done():
        return True, task.result()
    # The client is gone: what the work produced, or raised, is of no use to anyone.
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    return False, None


async def _stream(send: Send, receive: Receive, chunks: AsyncIterator[bytes]) -> int:
    sent = 0
    gone = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        while True:
            try:
                produced, chunk = await _until_gone(anext(chunks), gone)
            except StopAsyncIteration:
                break
            if not produced:
                return sent
            try:
                # send waits while the client is not reading (backpressure); a client that
                # is gone ends it
                delivered, _ = await _until_gone(
                    send({"type": "http.response.body", "body": chunk, "more_body": True}), gone
                )
            except (OSError, RuntimeError):  # the server knows the client is gone
                return sent
            if not delivered:
                return sent
            sent += len(chunk)
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "http.response.body", "body": b""})
        return sent
    finally:
        gone.cancel()
        await _close(chunks)

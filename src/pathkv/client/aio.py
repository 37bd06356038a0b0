"""``AsyncClient``: pathkv over HTTP for asyncio (httpx); the same API as ``Client``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from pathkv.client import calls
from pathkv.client.accounts import tenant_body, token_body
from pathkv.client.calls import Call, Document, Entry, Hit, Meta, Page
from pathkv.client.errors import (
    NotFound,
    PathkvError,
    PreconditionFailed,
    from_response,
    from_transport,
)
from pathkv.client.events import Decoder, Event
from pathkv.client.policy import Backoff
from pathkv.client.session import WATCH_READ_TIMEOUT, session_options

T = TypeVar("T")


class AsyncClient:
    """A pathkv server at ``url``; ``token`` is sent as a bearer token when given.

    Reads and unconditional writes are retried after a 503 or a lost connection (with
    ``backoff``); conditional writes only when the server did nothing. Errors are the
    exceptions of ``pathkv.client.errors``. Use it as a context manager, or ``close()`` it.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        token: str | None = None,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.backoff = backoff or Backoff()
        self._http = httpx.AsyncClient(**session_options(url, token, timeout), transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    call.target,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError as exc:
                delay = self.backoff.after_transport(call.retry, exc, attempt)
                if delay is None:
                    raise from_transport(exc, self.url) from None
            else:
                if response.status_code in call.ok:
                    return call.read(response)
                error = from_response(response)
                delay = self.backoff.after_problem(call.retry, error, attempt)
                if delay is None:
                    raise error
            await asyncio.sleep(delay)
            attempt += 1

    # Documents

    async def get(self, path: str) -> Document:
        """The document at ``path`` (counts one hit); ``NotFound`` when there is none."""
        return await self._send(calls.get(path))

    async def meta(self, path: str) -> Meta:
        """The document with its metadata (ETag, version, TTL left, hits); not a hit."""
        return await self._send(calls.meta(path))

    async def put(
        self,
        path: str,
        data: Mapping[str, Any],
        ttl: int | None = None,
        if_match: str | list[str] | None = None,
        if_none_match: str | None = None,
    ) -> Meta:
        """Create or replace; ``if_match=etag`` only replaces that version,
        ``if_none_match="*"`` only creates (else ``PreconditionFailed``)."""
        return await self._send(calls.put(path, data, ttl, if_match, if_none_match))

    async def delete(self, path: str, if_match: str | list[str] | None = None) -> None:
        await self._send(calls.delete(path, if_match))

    async def update(
        self,
        path: str,
        fn: Callable[[Document | None], Mapping[str, Any] | Awaitable[Mapping[str, Any]]],
        retries: int = 10,
        ttl: int | None = None,
    ) -> Meta:
        """Read, apply ``fn`` (given None when there is no document), write back only if
        nobody wrote since; on a conflict read again and retry, ``retries`` times at most.
        ``fn`` may be a coroutine function."""
        attempt = 0
        while True:
            try:
                current: Meta | None = await self.meta(path)
            except NotFound:
                current = None
            data = fn(current.data if current is not None else None)
            if inspect.isawaitable(data):
                data = await data
            try:
                if current is None:
                    return await self.put(path, data, ttl, if_none_match="*")
                return await self.put(path, data, ttl, if_match=current.etag)
            except PreconditionFailed:
                if attempt >= retries:
                    raise
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1

    # Listing, ranking, counting

    def keys(self, prefix: str = "/", page: int | None = None) -> AsyncIterator[str]:
        """Every path under ``prefix``, in order, following the cursors (``page`` per
        request)."""
        return self._pages(lambda after: calls.keys(prefix, after, page))

    def level(self, prefix: str = "/", delimiter: str = "/") -> AsyncIterator[Entry]:
        """One level under ``prefix``: its documents and its folders, in order."""
        return self._pages(lambda after: calls.level(prefix, after, delimiter))

    async def _pages(self, page: Callable[[str | None], Call[Page[T]]]) -> AsyncIterator[T]:
        after = None
        while True:
            found = await self._send(page(after))
            for item in found.items:
                yield item
            if found.next is None:
                return
            after = found.next

    async def hits(self, limit: int | None = None) -> list[Hit]:
        """The most read paths, most hits first."""
        return await self._send(calls.hits(limit))

    async def count(self) -> int:
        """``GET /``: counts one visit of the base URL and returns the count."""
        return await self._send(calls.count())

    # The change feed

    async def watch(
        self, prefix: str | None = None, path: str | None = None, since: str | None = None
    ) -> AsyncIterator[Event]:
        """Every change under ``prefix`` (or of ``path``) from now on (or after the cursor
        ``since``), for ever: it reconnects with backoff and jitter and resumes after the
        last event it gave. A ``reset`` event says the feed could not resume there."""
        params = calls.watch_params(prefix, path)
        last, failures, decoder = since, 0, Decoder()
        while True:
            headers = {"accept": "text/event-stream"}
            if last is not None:
                headers["last-event-id"] = last
            try:
                async with self._http.stream(
                    "GET", "/-/watch", params=params, headers=headers, timeout=WATCH_READ_TIMEOUT
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        error = from_response(response)
                        if self.backoff.after_problem(calls.Retry.ANY, error, 0) is None:
                            raise error
                    else:
                        async for line in response.aiter_lines():
                            event = decoder.line(line)
                            if event is None:
                                continue
                            failures = 0
                            if event.id is not None:
                                last = event.id
                            yield event
            except httpx.TransportError:
                pass
            failures += 1
            await asyncio.sleep(self.backoff.reconnect(failures, decoder.retry))

    # Tenants and tokens (auth on, with an admin token)

    async def tenants(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self._send(calls.admin("GET", "/-/tenants")))["items"]
        return items

    async def tenant(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._send(calls.admin("GET", "/-/tenants/" + name))
        return found

    async def put_tenant(self, name: str, **quota: Any) -> dict[str, Any]:
        """Create a tenant or replace its quota and rate (see ``tenant_body``)."""
        body = tenant_body(**quota)
        made: dict[str, Any] = await self._send(calls.admin("PUT", "/-/tenants/" + name, body))
        return made

    async def delete_tenant(self, name: str) -> None:
        await self._send(calls.admin("DELETE", "/-/tenants/" + name))

    async def tokens(self, tenant: str | None = None) -> list[dict[str, Any]]:
        call = calls.admin("GET", "/-/tokens")
        if tenant is not None:
            call.params["tenant"] = tenant
        items: list[dict[str, Any]] = (await self._send(call))["items"]
        return items

    async def token(self, token_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._send(calls.admin("GET", "/-/tokens/" + token_id))
        return found

    async def create_token(self, tenant: str | None = None, **options: Any) -> dict[str, Any]:
        """A new token (see ``token_body``); its secret, ``token``, is shown only here."""
        body = token_body(tenant, **options)
        made: dict[str, Any] = await self._send(calls.admin("POST", "/-/tokens", body))
        return made

    async def revoke(self, token_id: str) -> None:
        await self._send(calls.admin("DELETE", "/-/tokens/" + token_id))


__all__ = ["AsyncClient", "PathkvError"]

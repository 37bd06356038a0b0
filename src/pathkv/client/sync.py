"""``Client``: pathkv over HTTP, blocking (httpx)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
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


class Client:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.backoff = backoff or Backoff()
        self._http = httpx.Client(**session_options(url, token, timeout), transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(
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
            time.sleep(delay)
            attempt += 1

    # Documents

    def get(self, path: str) -> Document:
        """The document at ``path`` (counts one hit); ``NotFound`` when there is none."""
        return self._send(calls.get(path))

    def meta(self, path: str) -> Meta:
        """The document with its metadata (ETag, version, TTL left, hits); not a hit."""
        return self._send(calls.meta(path))

    def put(
        self,
        path: str,
        data: Mapping[str, Any],
        ttl: int | None = None,
        if_match: str | list[str] | None = None,
        if_none_match: str | None = None,
    ) -> Meta:
        """Create or replace; ``if_match=etag`` only replaces that version,
        ``if_none_match="*"`` only creates (else ``PreconditionFailed``)."""
        return self._send(calls.put(path, data, ttl, if_match, if_none_match))

    def delete(self, path: str, if_match: str | list[str] | None = None) -> None:
        self._send(calls.delete(path, if_match))

    def update(
        self,
        path: str,
        fn: Callable[[Document | None], Mapping[str, Any]],
        retries: int = 10,
        ttl: int | None = None,
    ) -> Meta:
        """Read, apply ``fn`` (given None when there is no document), write back only if
        nobody wrote since; on a conflict read again and retry, ``retries`` times at most."""
        attempt = 0
        while True:
            try:
                current: Meta | None = self.meta(path)
            except NotFound:
                current = None
            data = fn(current.data if current is not None else None)
            try:
                if current is None:
                    return self.put(path, data, ttl, if_none_match="*")
                return self.put(path, data, ttl, if_match=current.etag)
            except PreconditionFailed:
                if attempt >= retries:
                    raise
            time.sleep(self.backoff.delay(attempt))
            attempt += 1

    # Listing, ranking, counting

    def keys(self, prefix: str = "/", page: int | None = None) -> Iterator[str]:
        """Every path under ``prefix``, in order, following the cursors (``page`` per
        request)."""
        return self._pages(lambda after: calls.keys(prefix, after, page))

    def level(self, prefix: str = "/", delimiter: str = "/") -> Iterator[Entry]:
        """One level under ``prefix``: its documents and its folders, in order."""
        return self._pages(lambda after: calls.level(prefix, after, delimiter))

    def _pages(self, page: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        after = None
        while True:
            found = self._send(page(after))
            yield from found.items
            if found.next is None:
                return
            after = found.next

    def hits(self, limit: int | None = None) -> list[Hit]:
        """The most read paths, most hits first."""
        return self._send(calls.hits(limit))

    def count(self) -> int:
        """``GET /``: counts one visit of the base URL and returns the count."""
        return self._send(calls.count())

    # The change feed

    def watch(
        self, prefix: str | None = None, path: str | None = None, since: str | None = None
    ) -> Iterator[Event]:
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
                with self._http.stream(
                    "GET", "/-/watch", params=params, headers=headers, timeout=WATCH_READ_TIMEOUT
                ) as response:
                    if response.status_code != 200:
                        response.read()
                        error = from_response(response)
                        if self.backoff.after_problem(calls.Retry.ANY, error, 0) is None:
                            raise error
                    else:
                        for line in response.iter_lines():
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
            time.sleep(self.backoff.reconnect(failures, decoder.retry))

    # Tenants and tokens (auth on, with an admin token)

    def tenants(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._send(calls.admin("GET", "/-/tenants"))["items"]
        return items

    def tenant(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._send(calls.admin("GET", "/-/tenants/" + name))
        return found

    def put_tenant(self, name: str, **quota: Any) -> dict[str, Any]:
        """Create a tenant or replace its quota and rate (see ``tenant_body``)."""
        body = tenant_body(**quota)
        made: dict[str, Any] = self._send(calls.admin("PUT", "/-/tenants/" + name, body))
        return made

    def delete_tenant(self, name: str) -> None:
        self._send(calls.admin("DELETE", "/-/tenants/" + name))

    def tokens(self, tenant: str | None = None) -> list[dict[str, Any]]:
        call = calls.admin("GET", "/-/tokens")
        if tenant is not None:
            call.params["tenant"] = tenant
        items: list[dict[str, Any]] = self._send(call)["items"]
        return items

    def token(self, token_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._send(calls.admin("GET", "/-/tokens/" + token_id))
        return found

    def create_token(self, tenant: str | None = None, **options: Any) -> dict[str, Any]:
        """A new token (see ``token_body``); its secret, ``token``, is shown only here."""
        body = token_body(tenant, **options)
        made: dict[str, Any] = self._send(calls.admin("POST", "/-/tokens", body))
        return made

    def revoke(self, token_id: str) -> None:
        self._send(calls.admin("DELETE", "/-/tokens/" + token_id))


__all__ = ["Client", "PathkvError"]

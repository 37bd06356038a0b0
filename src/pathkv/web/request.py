"""A request as the handlers see it: read once from the ASGI scope, typed where it matters."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import unquote_plus

from pathkv.core.accounts import Admission
from pathkv.core.errors import (
    BadRequest,
    IncompleteBody,
    InvalidParameter,
    PayloadTooLarge,
    RequestTimeout,
)
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.tenants import Quota
from pathkv.core.tokens import Principal
from pathkv.web.deadlines import Deadlines

Scope = dict[str, Any]
Receive = Any
DOCUMENT_ROUTE = "/{path}"
# What a route asks of the caller (web/auth.py): nothing; an admin token; any token of the
# tenant with a read scope (listing, ranking, the counter; answers are filtered by scope);
# a scope covering the document's path (read for GET and HEAD, write otherwise); and for
# /-/metrics, an admin token when PATHKV_METRICS_AUTH is on.
ACCESS_OPEN = "open"
ACCESS_ADMIN = "admin"
ACCESS_TENANT = "tenant"
ACCESS_DOCUMENT = "document"
ACCESS_METRICS = "metrics"


class Request:
    """One HTTP request: method, raw and normalized path, headers, query, body source.

    ``path`` and ``route`` are set when the request is routed; ``namespace`` is the one the
    request acts in (``default`` for anonymous requests).
    """

    __slots__ = (
        "_query",
        "access",
        "admission",
        "headers",
        "method",
        "namespace",
        "path",
        "principal",
        "quota",
        "raw_path",
        "receive",
        "request_id",
        "route",
        "scope",
        "started",
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.started = time.perf_counter()
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        self.headers: dict[bytes, bytes] = dict(scope["headers"])
        self.request_id = ""
        self.path = ""
        self.route = DOCUMENT_ROUTE
        self.namespace: Namespace = DEFAULT
        # Set by authentication (web/auth.py), when it is on: who the request acts for, its
        # tenant's quota, and what counting it against rate limits found.
        self.access = ACCESS_TENANT
        self.principal: Principal | None = None
        self.quota: Quota | None = None
        self.admission: Admission | None = None
        self._query: dict[str, str] | None = None

    @property
    def target(self) -> bytes:
        """The path as requested, without the query."""
        return self.raw_path.split(b"?", 1)[0]

    def header(self, name: bytes) -> str | None:
        """A header's value; several lines of one header are one comma-separated list
        (RFC 9110, 5.3), so ``If-Match: "a"`` and ``If-Match: "b"`` mean ``"a", "b"``."""
        value = self.headers.get(name)
        if value is None:
            return None
        if self.repeated_headers:
            value = b", ".join(v for n, v in self.scope["headers"] if n == name)
        return value.decode("latin-1")

    @property
    def repeated_headers(self) -> bool:
        """Tuning: a header name appears more than once (a dict of the headers is shorter
        than their list), so only then are the lines searched."""
        return len(self.headers) != len(self.scope["headers"])

    def count_header(self, name: bytes) -> int:
        return sum(1 for n, _ in self.scope["headers"] if n == name)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters by name; a repeated name keeps its last value, and a name
        without ``=`` has the value ""."""
        if self._query is None:
            self._query = parse_query(self.scope.get("query_string", b""))
        return self._query

    def integer(self, name: str) -> int | None:
        """A whole-number query parameter, or None when absent (its range is the core's)."""
        raw = self.query.get(name)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise InvalidParameter(f"'{name}' must be a whole number")
        return int(raw)

    def flag(self, name: str) -> bool:
        """``?name``, ``?name=1`` or ``?name=true`` are true; 0, false or absent are not."""
        raw = self.query.get(name)
        if raw is None or raw in ("0", "false"):
            return False
        if raw in ("", "1", "true"):
            return True
        raise InvalidParameter(f"'{name}' must be 1, true, 0 or false")


def parse_query(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
        pairs = [part.partition("=") for part in text.split("&") if part]
        return {
            unquote_plus(name, errors="strict"): unquote_plus(value, errors="strict")
            for name, _, value in pairs
        }
    except UnicodeDecodeError:
        raise BadRequest("query string is not valid UTF-8") from None


async def read_body(
    receive: Receive,
    headers: dict[bytes, bytes],
    limit: int,
    deadlines: Deadlines,
    seconds: float,
) -> bytes:
    """The whole body, refusing (413) as soon as it is known to exceed limit.

    Tuning: with a Content-Length, reading stops once that many bytes have arrived: HTTP
    framing ends the body there, and asking the server for its end costs another round trip
    through it (granian answers the last chunk with ``more_body`` set).
    """
    declared = headers.get(b"content-length")
    expected = -1
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        expected = int(declared)
        if expected > limit:
            raise PayloadTooLarge(f"body of {expected} bytes is over the {limit}-byte limit")
        if expected == 0:
            return b""
    chunks: list[bytes] = []
    size = 0
    task = deadlines.start(seconds)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise IncompleteBody(
                    "the body ended before it was complete: the connection closed, or its "
                    "chunked encoding is malformed"
                )
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
            if size == expected or not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if deadlines.finish(task):
            raise RequestTimeout(f"the body did not arrive within {seconds:g} s") from None
        raise
    finally:
        deadlines.finish(task)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

"""Responses as plain values, and the rendering of every error as problem+json (RFC 9457)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate

import orjson

from pathkv.core.contract import CorruptRecord, StoreError, StoreTimeoutError
from pathkv.core.errors import DamagedDocument, Problem, StoreTimeout, StoreUnavailable

log = logging.getLogger("pathkv")

JSON = b"application/json"
PROBLEM_JSON = b"application/problem+json"
# The status metrics and logs record for a request whose client went away before an answer.
CLIENT_GONE = 499

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Response:
    """An answer: a status, headers, and either a body or a stream of chunks.

    A stream is sent as it is produced (headers first, then each chunk as the client
    takes it) and ends when the iterator does or the client goes away.
    """

    status: int
    body: bytes = b""
    content_type: bytes | None = JSON
    headers: Headers = field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None
    cacheable: bool = False
    """True when the handler set Cache-Control itself; every other answer is no-store."""


def json_response(status: int, value: object, headers: Headers | None = None) -> Response:
    """JSON that ends with a newline, so a terminal prompt starts on a line of its own."""
    return Response(
        status, orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE), JSON, headers or []
    )


@functools.lru_cache(maxsize=4096)
def _http_date(unix_seconds: int) -> bytes:
    return formatdate(unix_seconds, usegmt=True).encode("ascii")


def http_date(unix_ms: int) -> bytes:
    """An IMF-fixdate (RFC 9110) for a time in Unix milliseconds."""
    return _http_date(unix_ms // 1000)


def as_problem(exc: Exception) -> Problem:
    """The one place a store failure becomes a client-visible problem."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, CorruptRecord):
        return DamagedDocument(str(exc))
    if isinstance(exc, StoreTimeoutError):
        return StoreTimeout(str(exc) or "the store did not answer in time")
    if isinstance(exc, StoreError):
        return StoreUnavailable(str(exc) or "the store is unavailable")
    return Problem("an unexpected error occurred; the request id identifies it in the logs")


def log_failure(exc: Exception, problem: Problem, request_id: str) -> None:
    """One log line for each answer that is the server's fault, with its cause."""
    if type(problem) is Problem:
        log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    elif isinstance(exc, StoreError):
        cause = exc.__cause__
        log.warning(
            "store failure: %s",
            exc,
            extra={
                "request_id": request_id,
                "status": problem.status,
                "cause": f"{type(cause).__name__}: {cause}" if cause is not None else None,
            },
        )


def problem_response(problem: Problem, instance: str, request_id: str) -> Response:
    body = {
        "type": problem.type_uri,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        "request_id": request_id,
        **problem.members,
    }
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()]
    if problem.status == 503:
        headers.append((b"retry-after", b"1"))
    return Response(
        problem.status, orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE), PROBLEM_JSON, headers
    )

"""The errors a pathkv server answers, as exceptions named after their problem types.

Every error answer is RFC 9457 problem+json with ``type`` ``urn:pathkv:problem:<slug>``; the
exception carries its members. An answer that is not problem+json (a proxy's 502 page) becomes
the class of its status. A server that cannot be reached is ``ConnectionFailed``, an
``Unavailable``: callers handle "try again later" in one place.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

TYPE_PREFIX = "urn:pathkv:problem:"


class PathkvError(Exception):
    """Any error the client reports; ``problem`` holds the problem+json members."""

    default_status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status if status is not None else self.default_status
        """The answer's HTTP status (0: there was no answer)."""
        self.problem: dict[str, Any] = problem or {}
        self.headers = headers if headers is not None else httpx.Headers()

    @property
    def status_code(self) -> int:
        """``status``, by httpx's name for it."""
        return self.status

    @property
    def title(self) -> str | None:
        return self.problem.get("title")

    @property
    def instance(self) -> str | None:
        return self.problem.get("instance")

    @property
    def request_id(self) -> str | None:
        return self.problem.get("request_id")

    @property
    def type(self) -> str:
        return str(self.problem.get("type", TYPE_PREFIX + self.slug))

    def __str__(self) -> str:
        return f"{self.status} {self.detail}" if self.status else self.detail


class BadRequest(PathkvError):
    default_status, slug = 400, "bad-request"


class InvalidPath(BadRequest):
    slug = "invalid-path"


class InvalidDocument(BadRequest):
    slug = "invalid-document"


class InvalidParameter(BadRequest):
    slug = "invalid-parameter"


class IncompleteBody(BadRequest):
    slug = "incomplete-body"


class Unauthorized(PathkvError):
    default_status, slug = 401, "unauthorized"


class Forbidden(PathkvError):
    default_status, slug = 403, "forbidden"


class NotFound(PathkvError):
    default_status, slug = 404, "not-found"


class MethodNotAllowed(PathkvError):
    default_status, slug = 405, "method-not-allowed"


class RequestTimeout(PathkvError):
    default_status, slug = 408, "request-timeout"


class Conflict(PathkvError):
    default_status, slug = 409, "conflict"


class CursorExpired(PathkvError):
    default_status, slug = 410, "cursor-expired"


class PreconditionFailed(PathkvError):
    """The ETag moved on (or the document exists, with ``if_none_match="*"``)."""

    default_status, slug = 412, "precondition-failed"

    @property
    def etag(self) -> str | None:
        """The current ETag, when there is a document."""
        etag: str | None = self.headers.get("etag")
        return etag


class PayloadTooLarge(PathkvError):
    default_status, slug = 413, "payload-too-large"


class PathTooLong(PathkvError):
    default_status, slug = 414, "path-too-long"


class UnsupportedMediaType(PathkvError):
    default_status, slug = 415, "unsupported-media-type"


class RateLimited(PathkvError):
    default_status, slug = 429, "rate-limited"

    @property
    def retry_after(self) -> float:
        """Seconds the server asks to wait (Retry-After), 1 when it does not say."""
        try:
            return max(0.0, float(self.headers.get("retry-after", "1")))
        except ValueError:
            return 1.0


class QuotaExceeded(PathkvError):
    default_status, slug = 507, "quota-exceeded"


class InternalError(PathkvError):
    default_status, slug = 500, "internal-error"


class DamagedDocument(InternalError):
    slug = "damaged-document"


class Unavailable(PathkvError):
    """The service cannot answer now; trying again later may work."""

    default_status, slug = 503, "store-unavailable"


class Busy(Unavailable):
    slug = "busy"


class NotReady(Unavailable):
    slug = "not-ready"


class StoreTimeout(Unavailable):
    default_status, slug = 504, "store-timeout"


class ConnectionFailed(Unavailable):
    """No answer at all: refused, reset, timed out, or a name that does not resolve."""

    default_status, slug = 0, "connection-failed"


def _classes(root: type[PathkvError]) -> list[type[PathkvError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_classes(sub))
    return found


BY_SLUG: dict[str, type[PathkvError]] = {c.slug: c for c in _classes(PathkvError)}
BY_STATUS: dict[int, type[PathkvError]] = {
    c.default_status: c for c in reversed(_classes(PathkvError)[1:]) if c.default_status
}
# A proxy in front of pathkv answers these when it cannot reach it.
BY_STATUS.update({502: Unavailable, 503: Unavailable, 504: Unavailable})


def from_response(response: httpx.Response) -> PathkvError:
    """The exception an error answer stands for (its body must have been read)."""
    problem: dict[str, Any] = {}
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            parsed = json.loads(response.content)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            problem = parsed
    kind = str(problem.get("type", ""))
    cls = BY_SLUG.get(kind.removeprefix(TYPE_PREFIX)) if kind.startswith(TYPE_PREFIX) else None
    if cls is None:
        cls = BY_STATUS.get(response.status_code)
        if cls is None:
            cls = BadRequest if response.status_code < 500 else InternalError
    detail = str(problem.get("detail") or response.reason_phrase or "error")
    return cls(detail, status=response.status_code, problem=problem, headers=response.headers)


def from_transport(error: httpx.TransportError, url: str) -> ConnectionFailed:
    what = str(error) or type(error).__name__
    return ConnectionFailed(f"cannot reach {url}: {what}")

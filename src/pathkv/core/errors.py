"""Every error a client can see, as one exception type per problem.

The web layer renders these as RFC 9457 problem+json; nothing else decides a status code.
"""

from __future__ import annotations

from typing import ClassVar


class Problem(Exception):
    """An error with an HTTP status, a stable type slug and a human title."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        headers: dict[str, str] | None = None,
        members: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.members = members or {}
        """Extension members of the problem+json body (RFC 9457, 3.2)."""

    @property
    def type_uri(self) -> str:
        return f"urn:pathkv:problem:{self.slug}"


class BadRequest(Problem):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class InvalidPath(BadRequest):
    slug = "invalid-path"
    title = "Invalid path"


class InvalidDocument(BadRequest):
    slug = "invalid-document"
    title = "Invalid document"


class IncompleteBody(BadRequest):
    """The body ended before it was complete.

    The client closed in the middle of its body, or the server found its chunked encoding
    malformed: the two look alike to the app. A 400 answers the second (and is lost on the
    first), and both are logged and counted as a 400 rather than as a vanished request.
    """

    slug = "incomplete-body"
    title = "Incomplete request body"


class InvalidParameter(BadRequest):
    slug = "invalid-parameter"
    title = "Invalid query parameter"


class Unauthorized(Problem):
    """No valid credentials; the header tells the client how to authenticate."""

    status = 401
    slug = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, sent: bool) -> None:
        challenge = 'Bearer realm="pathkv"'
        if sent:
            challenge += ', error="invalid_token"'
        super().__init__(detail, {"www-authenticate": challenge})


class Forbidden(Problem):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(Problem):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class RequestTimeout(Problem):
    status = 408
    slug = "request-timeout"
    title = "Request body not received in time"


class ExpiredCursor(Problem):
    """The change feed no longer holds what follows the cursor (it is older than what is
    kept): list again, and follow the feed from the present."""

    status = 410
    slug = "cursor-expired"
    title = "Cursor expired"


class PreconditionFailed(Problem):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(Problem):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class PathTooLong(Problem):
    status = 414
    slug = "path-too-long"
    title = "Path too long"


class UnsupportedMediaType(Problem):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class Conflict(Problem):
    status = 409
    slug = "conflict"
    title = "Conflict"


class RateLimited(Problem):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class OverQuota(Problem):
    """A write would take the tenant past a quota (RFC 4918's 507, as WebDAV servers answer
    a full quota)."""

    status = 507
    slug = "quota-exceeded"
    title = "Quota exceeded"


class ServerBusy(Problem):
    status = 503
    slug = "busy"
    title = "Busy"


class DamagedDocument(Problem):
    status = 500
    slug = "damaged-document"
    title = "Stored document is damaged"


class StoreUnavailable(Problem):
    status = 503
    slug = "store-unavailable"
    title = "Store unavailable"


class StoreTimeout(Problem):
    status = 504
    slug = "store-timeout"
    title = "Store timed out"


class NotReady(Problem):
    status = 503
    slug = "not-ready"
    title = "Not ready"

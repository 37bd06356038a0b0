"""Cross-origin requests from browsers (CORS), for the origins PATHKV_CORS_ORIGINS names.

None are allowed by default. For an allowed origin, every answer (errors included) carries
``Access-Control-Allow-Origin`` and exposes pathkv's headers, and a preflight (``OPTIONS``
with ``Access-Control-Request-Method``) is answered here, 204, without reaching a handler.

Pages of other origins cannot read answers, but a browser sends some requests without
asking (``<img src>``, ``<script src>``: ``Sec-Fetch-Mode: no-cors``), which would count hits
and the counter on a visitor's behalf; those are refused (403) unless they come from an
allowed origin. Browsers that do not send ``Sec-Fetch-*`` headers are not covered (see
README: Browsers).
"""

from __future__ import annotations

from collections.abc import Iterable

from pathkv.core.errors import Forbidden
from pathkv.web.request import Request
from pathkv.web.responses import Response

METHODS = b"GET, HEAD, PUT, DELETE"
ALLOWED_REQUEST_HEADERS = frozenset(
    (
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "pathkv-tenant",
        "x-request-id",
        "last-event-id",
    )
)
EXPOSED = (
    b"etag, last-modified, location, x-ttl, x-request-id, retry-after, ratelimit, ratelimit-policy"
)
PREFLIGHT_MAX_AGE = b"600"


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        self.allowed = frozenset(origin.encode("latin-1") for origin in origins)

    def _origin(self, request: Request) -> bytes | None:
        origin = request.headers.get(b"origin")
        return origin if origin is not None and origin in self.allowed else None

    def guard(self, request: Request) -> Response | None:
        """Answers a preflight; refuses a cross-site request a page makes without asking."""
        if self._origin(request) is not None:
            if request.method == "OPTIONS" and b"access-control-request-method" in request.headers:
                return preflight(request)
        elif (
            request.headers.get(b"sec-fetch-mode") == b"no-cors"
            and request.headers.get(b"sec-fetch-site") == b"cross-site"
        ):
            raise Forbidden("a page of another site may not make this request")
        return None

    def finish(self, request: Request, response: Response) -> None:
        """The finisher (installed only when some origin is allowed): tells the browser
        which origins may read the answer."""
        origin = self._origin(request)
        if origin is not None:
            response.headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-expose-headers", EXPOSED),
            ]
        response.headers.append((b"vary", b"Origin"))


def preflight(request: Request) -> Response:
    asked = request.header(b"access-control-request-headers") or ""
    names = [name.strip().lower() for name in asked.split(",") if name.strip()]
    headers = [
        (b"access-control-allow-methods", METHODS),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE),
    ]
    granted = [name for name in names if name in ALLOWED_REQUEST_HEADERS]
    if granted:
        headers.append((b"access-control-allow-headers", ", ".join(granted).encode("latin-1")))
    return Response(204, content_type=None, headers=headers)

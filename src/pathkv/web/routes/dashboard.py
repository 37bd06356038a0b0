"""``/-/ui/``: the dashboard, static files shipped inside the package (pathkv/web/ui).

Nothing is fetched from elsewhere and nothing is built: the page, its script and its style
are served as they are, under a Content-Security-Policy that allows only them and requests
to this origin. The page calls the same API as every client, with the token the user gives
it (kept in the tab's session storage).
"""

from __future__ import annotations

import hashlib
from importlib import resources

from pathkv.core.errors import NotFound
from pathkv.web.request import Request
from pathkv.web.responses import Response

PREFIX = "/-/ui/"
ASSETS = {
    "": ("index.html", b"text/html; charset=utf-8"),
    "app.js": ("app.js", b"text/javascript; charset=utf-8"),
    "app.css": ("app.css", b"text/css; charset=utf-8"),
    "icon.svg": ("icon.svg", b"image/svg+xml"),
}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class Dashboard:
    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, bytes, bytes]] = {}

    def _file(self, name: str) -> tuple[bytes, bytes, bytes]:
        """(body, content type, ETag), read from the package once."""
        found = self._files.get(name)
        if found is None:
            if name not in ASSETS:
                raise NotFound(f"{PREFIX}{name} is not a file of the dashboard")
            filename, content_type = ASSETS[name]
            body = resources.files("pathkv.web.ui").joinpath(filename).read_bytes()
            etag = b'"%s"' % hashlib.sha256(body).hexdigest()[:16].encode("ascii")
            found = self._files[name] = (body, content_type, etag)
        return found

    async def enter(self, request: Request) -> Response:
        """``/-/ui/`` (paths are matched without their last slash): the page; ``/-/ui``
        is sent there, since the page's relative links need the slash."""
        if not request.raw_path.endswith(b"/"):
            return Response(308, b"", None, [(b"location", PREFIX.encode("ascii"))])
        return self._answer(request, "")

    async def asset(self, request: Request) -> Response:
        return self._answer(request, request.path[len(PREFIX) :])

    def _answer(self, request: Request, name: str) -> Response:
        body, content_type, etag = self._file(name)
        headers = [(b"etag", etag), (b"cache-control", b"no-cache"), *SECURITY_HEADERS]
        if request.headers.get(b"if-none-match") == etag:
            return Response(304, b"", None, headers, cacheable=True)
        return Response(200, body, content_type, headers, cacheable=True)

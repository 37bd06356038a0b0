"""Documents: GET, HEAD, PUT and DELETE on any path outside ``/-/``."""

from __future__ import annotations

import re
from urllib.parse import quote

from pathkv.config import Settings
from pathkv.core import etags
from pathkv.core.contract import Record
from pathkv.core.documents import require_supported
from pathkv.core.service import Service, meta_view, seconds_left
from pathkv.web.body_budget import BodyBudget
from pathkv.web.deadlines import Deadlines
from pathkv.web.request import Request, read_body
from pathkv.web.responses import Headers, Response, http_date

# What quote(path, safe="/") leaves as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")


# A document may be stored by a cache, but must be revalidated (with its ETag) on every use:
# a replaced or deleted document is never served from a cache, and every read counts a hit.
# Its TTL is not a freshness lifetime: it is shown as X-TTL, not as Expires or max-age.
REVALIDATE = (b"cache-control", b"no-cache")


def document_headers(record: Record, now: int) -> Headers:
    return [
        (b"etag", etags.format_etag(record.version, record.digest).encode("ascii")),
        (b"last-modified", http_date(record.last_updated)),
        (b"x-ttl", b"%d" % seconds_left(record, now)),
    ]


def location(path: str) -> bytes:
    if _URL_SAFE.fullmatch(path):  # Tuning: the common case, without quote()'s layers
        return path.encode("ascii")
    return quote(path, safe="/").encode("ascii")


class Documents:
    def __init__(self, service: Service, settings: Settings, deadlines: Deadlines) -> None:
        self.service = service
        self._max_body = settings.max_body_bytes
        self._body_timeout = settings.body_timeout
        self._deadlines = deadlines
        self._budget = BodyBudget(settings.body_budget_bytes)

    async def read(self, request: Request) -> Response:
        """GET (a hit) and HEAD (not one), or with ``?meta`` the metadata view (not a hit)."""
        meta = bool(request.scope.get("query_string")) and request.flag("meta")
        record = await self.service.get(
            request.namespace,
            request.path,
            count_hit=request.method == "GET" and not meta,
            show_hits=meta,
        )
        now = self.service.clock()
        headers = document_headers(record, now)
        headers.append(REVALIDATE)
        if (
            b"if-none-match" in request.headers or b"if-modified-since" in request.headers
        ) and etags.not_modified(
            request.header(b"if-none-match"),
            request.header(b"if-modified-since"),
            record.tag,
            record.last_updated,
        ):
            return Response(304, content_type=None, headers=headers, cacheable=True)
        # A document is served exactly as stored; the metadata view, like every other JSON
        # answer of the service, ends with a newline.
        body = meta_view(record, now) + b"\n" if meta else record.body
        return Response(200, body, headers=headers, cacheable=True)

    async def put(self, request: Request) -> Response:
        content_type = request.header(b"content-type") or ""
        require_supported(content_type)
        ttl = request.integer("ttl") if request.scope.get("query_string") else None
        expect = self._condition(request)
        declared = request.headers.get(b"content-length")
        size = (
            min(int(declared), self._max_body)
            if declared is not None and declared.isdigit()
            else self._max_body
        )
        if not self._budget.try_take(size):
            await self._budget.take(size)
        try:
            body = await read_body(
                request.receive,
                request.headers,
                self._max_body,
                self._deadlines,
                self._body_timeout,
            )
            record, created = await self.service.put(
                request.namespace, request.path, content_type, body, ttl, expect, request.quota
            )
        finally:
            self._budget.give_back(size)
        now = self.service.clock()
        headers = document_headers(record, now)
        if created:
            headers.append((b"location", location(request.path)))
        return Response(201 if created else 200, meta_view(record, now) + b"\n", headers=headers)

    async def delete(self, request: Request) -> Response:
        await self.service.delete(request.namespace, request.path, self._condition(request))
        return Response(204, content_type=None)

    @staticmethod
    def _condition(request: Request) -> etags.Expect | None:
        return etags.write_condition(
            request.header(b"if-match"),
            request.header(b"if-none-match"),
            request.header(b"if-unmodified-since"),
        )

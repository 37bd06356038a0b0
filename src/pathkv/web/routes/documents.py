"""Documents: GET, HEAD, PUT and DELETE on any path outside ``/-/``."""

from __future__ import annotations

import re
from urllib.parse import quote

from pathkv.config import Settings
from pathkv.core import etags
from pathkv.core.contract import Record
from pathkv.core.documents import require_supported
from pathkv.core.service import Service, meta_view, seconds_left
from pathkv.web.deadlines import Deadlines
from pathkv.web.request import Request, read_body
from pathkv.web.responses import Headers, Response, http_date

# What quote(path, safe="/") leaves as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")


def document_headers(record: Record, now: int) -> Headers:
    return [
        (b"etag", etags.format_etag(record.version, record.digest).encode("ascii")),
        (b"last-modified", http_date(record.last_updated)),
        (b"expires", http_date(record.expires_at)),
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

    async def get(self, request: Request) -> Response:
        return await self._read(request, count_hit=True)

    async def head(self, request: Request) -> Response:
        return await self._read(request, count_hit=False)

    async def _read(self, request: Request, count_hit: bool) -> Response:
        meta = bool(request.scope.get("query_string")) and request.flag("meta")
        record = await self.service.get(
            request.namespace, request.path, count_hit=count_hit and not meta
        )
        now = self.service.clock()
        headers = document_headers(record, now)
        if_none_match = request.header(b"if-none-match")
        if if_none_match is not None and etags.none_match(if_none_match, record.tag):
            return Response(304, content_type=None, headers=headers)
        return Response(200, meta_view(record, now) if meta else record.body, headers=headers)

    async def put(self, request: Request) -> Response:
        content_type = request.header(b"content-type") or ""
        require_supported(content_type)
        ttl = request.integer("ttl") if request.scope.get("query_string") else None
        expect = etags.write_condition(
            request.header(b"if-match"), request.header(b"if-none-match")
        )
        body = await read_body(
            request.receive, request.headers, self._max_body, self._deadlines, self._body_timeout
        )
        record, created = await self.service.put(
            request.namespace, request.path, content_type, body, ttl, expect
        )
        now = self.service.clock()
        headers = document_headers(record, now)
        if created:
            headers.append((b"location", location(request.path)))
        return Response(201 if created else 200, meta_view(record, now), headers=headers)

    async def delete(self, request: Request) -> Response:
        expect = etags.write_condition(
            request.header(b"if-match"), request.header(b"if-none-match")
        )
        await self.service.delete(request.namespace, request.path, expect)
        return Response(204, content_type=None)

"""``GET /``: the namespace's counter."""

from __future__ import annotations

from pathkv.core.service import Service
from pathkv.web.request import Request
from pathkv.web.responses import Response, json_response


class Counter:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def get(self, request: Request) -> Response:
        # HEAD carries GET's headers (the length of the count it would show) but counts
        # nothing.
        count = await self.service.count(request.namespace, add=request.method != "HEAD")
        return json_response(200, {"count": count})

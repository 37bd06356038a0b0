"""The access log: one JSON line per request, written once its answer has been sent."""

from __future__ import annotations

import logging
import time

from pathkv.web.request import Request
from pathkv.web.responses import Response

ACCESS = logging.getLogger("pathkv.access")


def access(request: Request, response: Response, sent: int) -> None:
    """The observer that logs one line per request (a stream's once it has ended); the raw
    path is shown as received, cut at 256 characters."""
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info(
            "request",
            extra={
                "request_id": request.request_id,
                "method": request.method[:32],
                "route": request.route,
                "path": request.raw_path.decode("latin-1")[:256],
                "status": response.status,
                "duration_ms": round((time.perf_counter() - request.started) * 1000, 3),
                "bytes": sent,
                # who it acted for (with auth on): the tenant and the token's id, never
                # the token itself
                "tenant": request.namespace.name,
                "token_id": principal.token.id
                if (principal := request.principal) is not None and principal.token
                else None,
            },
        )

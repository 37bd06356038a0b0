"""The service's own endpoints under ``/-/``: health, readiness, metrics, the API
description, listing and the hit ranking."""

from __future__ import annotations

from collections.abc import Callable

from pathkv.core.errors import NotReady
from pathkv.core.service import DEFAULT_TOP, MAX_PAGE, Service, within
from pathkv.core.tokens import READ
from pathkv.web.metrics import CONTENT_TYPE as METRICS_TYPE
from pathkv.web.metrics import Metrics
from pathkv.web.openapi import spec as openapi_spec
from pathkv.web.request import Request
from pathkv.web.responses import Response, as_problem, json_response
from pathkv.web.store_health import StoreWatch


class Endpoints:
    def __init__(
        self,
        service: Service,
        metrics: Metrics,
        draining: Callable[[], bool],
        watch: StoreWatch,
    ) -> None:
        self.service = service
        self._watch = watch
        self._metrics = metrics
        self._draining = draining
        self._openapi: bytes | None = None

    async def healthz(self, request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self._draining():
            raise NotReady("shutting down")
        try:
            health = await self._watch.check(self.service.store)
        except TimeoutError:
            raise NotReady("the store did not answer in time") from None
        except Exception as exc:
            raise NotReady(f"the store is unreachable: {as_problem(exc).detail}") from None
        return json_response(
            200, {"status": "ready", "writable": health.writable, "reason": health.reason}
        )

    async def metrics(self, request: Request) -> Response:
        return Response(200, self._metrics.exposition(), METRICS_TYPE)

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            self._openapi = json_response(200, openapi_spec()).body
        return Response(200, self._openapi)

    async def keys(self, request: Request) -> Response:
        query = request.query
        page = await self.service.keys(
            request.namespace,
            query.get("prefix"),
            query.get("after"),
            request.integer("limit"),
            query.get("delimiter"),
        )
        paths, folders = page.paths, page.prefixes
        principal = request.principal
        if principal is not None and not principal.reads_everything:
            paths = [p for p in paths if principal.may(READ, p)]
            if folders is not None:
                folders = [f for f in folders if principal.may_look_into(READ, f)]
        answer: dict[str, object] = {"items": [{"path": p} for p in paths]}
        if folders is not None:
            answer["prefixes"] = folders
        answer["next"] = page.next
        return json_response(200, answer)

    async def hits(self, request: Request) -> Response:
        limit = request.integer("limit")
        principal = request.principal
        if principal is None or principal.reads_everything:
            top = await self.service.top_hits(request.namespace, limit)
        else:
            # Ranked among the paths the token may read: the top of a longer ranking.
            wanted = within("limit", limit, DEFAULT_TOP, 1, MAX_PAGE)
            top = await self.service.top_hits(request.namespace, MAX_PAGE)
            top = [(p, n) for p, n in top if principal.may(READ, p)][:wanted]
        return json_response(200, {"items": [{"path": p, "hits": n} for p, n in top]})

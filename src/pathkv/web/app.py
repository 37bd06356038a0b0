"""The ASGI application: routes a request to the service and renders the answer.

Routes: ``/`` (the counter), ``/-/...`` (the service's own endpoints), anything else a
document. The app owns no globals: ``create_app`` wires settings, store and service.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pathkv.config import Settings
from pathkv.core import etags
from pathkv.core.documents import require_supported
from pathkv.core.errors import MethodNotAllowed, NotFound, NotReady, Problem
from pathkv.core.paths import ROOT, is_reserved, normalize
from pathkv.core.service import Policy, Service, meta_requested, meta_view, seconds_left
from pathkv.stores.contract import Record, Store
from pathkv.stores.registry import open_store
from pathkv.web import logs
from pathkv.web.deadlines import Deadlines
from pathkv.web.metrics import CONTENT_TYPE as METRICS_TYPE
from pathkv.web.metrics import Metrics
from pathkv.web.openapi import spec as openapi_spec
from pathkv.web.process import WorkerProcess
from pathkv.web.request import ClientGone, Receive, Scope, headers_of, query_of, read_body
from pathkv.web.request import text_header as header
from pathkv.web.responses import (
    Headers,
    Response,
    as_problem,
    http_date,
    json_response,
    problem_response,
)

log = logging.getLogger("pathkv")
Send = Callable[[dict[str, Any]], Any]

DOCUMENT_ROUTE = "/{path}"
READ_METHODS = ("GET", "HEAD")
DOCUMENT_METHODS = "GET, HEAD, PUT, DELETE"
READY_TIMEOUT = 2.0
# What quote(path, safe="/") leaves as it is.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")
# Metrics reach the exposition, and new threads of a serving worker are tuned, this often.
HOUSEKEEPING_INTERVAL = 1.0


def _document_headers(record: Record, now: int) -> Headers:
    return [
        (b"etag", etags.format_etag(record.version, record.digest).encode("ascii")),
        (b"last-modified", http_date(record.last_updated)),
        (b"expires", http_date(record.expires_at)),
        (b"x-ttl", b"%d" % seconds_left(record, now)),
    ]


class App:
    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        draining: Callable[[], bool] = lambda: False,
        process: WorkerProcess | None = None,
    ) -> None:
        self.settings = settings
        self._process = process
        self.metrics = Metrics()
        self.store = self.metrics.timed(store if store is not None else open_store(settings))
        self.service = Service(
            self.store, Policy(settings.default_ttl, settings.max_ttl, settings.max_depth)
        )
        self.draining = draining
        self._background: list[asyncio.Task[None]] = []
        # Request ids: a random per-process prefix and a counter (cheaper than uuid4).
        self._id_prefix = os.urandom(8).hex()
        self._ids = itertools.count(1)
        self._openapi: bytes | None = None
        self._body_deadlines = Deadlines()

    # ASGI entry ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        logs.configure(self.settings.log_level)
        await self.store.open()
        self._body_deadlines.bind(asyncio.get_running_loop())
        if self._process is not None:
            self._process.start(self.store.works_off_loop)
        self._background.append(asyncio.create_task(self._housekeeping()))
        if self.settings.sweep_interval > 0:
            self._background.append(asyncio.create_task(self._sweep_periodically()))

    async def shutdown(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.store.close()
        self.metrics.flush()

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            self.metrics.flush()
            if self._process is not None:
                self._process.upkeep()

    async def _sweep_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                removed = await self.service.sweep()
            except Exception:
                log.warning("sweep failed", exc_info=True)
                continue
            if removed:
                log.info("swept expired documents", extra={"removed": removed})

    # requests --------------------------------------------------------------------------

    def request_id(self, headers: dict[bytes, bytes]) -> str:
        """The client's X-Request-ID when it is sane, else a new id unique across processes."""
        given = headers.get(b"x-request-id")
        if given and len(given) <= 128 and given.isascii() and given.decode("ascii").isprintable():
            return given.decode("ascii")
        return f"{self._id_prefix}{next(self._ids):016x}"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        headers = headers_of(scope)
        request_id = self.request_id(headers)
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        route = DOCUMENT_ROUTE
        try:
            path = normalize(raw_path.split(b"?", 1)[0], self.settings.max_path_bytes)
            if path == ROOT:
                route = ROOT
                response = await self.root(method)
            elif is_reserved(path):
                route = path
                response = await self.reserved(method, path, scope)
            else:
                response = await self.document(method, path, scope, headers, receive)
        except ClientGone:
            self.metrics.observe(method, route, 499, time.perf_counter() - started)
            return
        except Exception as exc:
            response = self.error_response(exc, raw_path, request_id)
        if route.startswith("/-/") and response.status == 404:
            route = "/-/{unknown}"
        await self.send(send, method, response, request_id)
        self.metrics.observe(method, route, response.status, time.perf_counter() - started)
        logs.access(request_id, method, route, raw_path, response.status, started,
                    len(response.body))

    @staticmethod
    def error_response(exc: Exception, raw_path: bytes, request_id: str) -> Response:
        """The problem+json answer for exc.

        Kept out of ``handle`` so that no local variable of its frame refers to the
        exception: exception -> traceback -> frame -> exception is a reference cycle that
        only the garbage collector can free, and 404s are common.
        """
        problem = as_problem(exc)
        if type(problem) is Problem:
            log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
        return problem_response(problem, raw_path.decode("latin-1")[:2048], request_id)

    @staticmethod
    async def send(send: Send, method: str, response: Response, request_id: str) -> None:
        headers = [*response.headers, (b"x-request-id", request_id.encode("ascii"))]
        if response.content_type is not None:
            headers.append((b"content-type", response.content_type))
        if response.status not in (204, 304):
            headers.append((b"content-length", b"%d" % len(response.body)))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        body = b"" if method == "HEAD" or response.status in (204, 304) else response.body
        await send({"type": "http.response.body", "body": body})

    async def root(self, method: str) -> Response:
        if method == "GET":
            return json_response(200, {"count": await self.service.count()})
        if method == "HEAD":
            return Response(200)
        raise MethodNotAllowed("/ answers GET only", headers={"allow": "GET, HEAD"})

    async def reserved(self, method: str, path: str, scope: Scope) -> Response:
        if method not in READ_METHODS:
            raise MethodNotAllowed(f"{path} is read-only", headers={"allow": "GET, HEAD"})
        query = query_of(scope)
        if path == "/-/healthz":
            return json_response(200, {"status": "ok"})
        if path == "/-/readyz":
            return await self.readiness()
        if path == "/-/metrics":
            return Response(200, self.metrics.exposition(), METRICS_TYPE)
        if path == "/-/openapi.json":
            if self._openapi is None:
                self._openapi = json_response(200, openapi_spec()).body
            return Response(200, self._openapi)
        if path == "/-/keys":
            page = await self.service.keys(query.get("prefix"), query.get("after"),
                                           query.get("limit"))
            return json_response(
                200, {"items": [{"path": p} for p in page.paths], "next": page.next}
            )
        if path == "/-/hits":
            top = await self.service.top_hits(query.get("limit"))
            return json_response(200, {"items": [{"path": p, "hits": n} for p, n in top]})
        raise NotFound(f"{path} is not an endpoint of this service")

    async def readiness(self) -> Response:
        if self.draining():
            raise NotReady("shutting down")
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.service.check_ready()
        except TimeoutError:
            raise NotReady("the store did not answer in time") from None
        except Exception as exc:
            raise NotReady(f"the store is unreachable: {as_problem(exc).detail}") from None
        return json_response(200, {"status": "ready"})

    async def document(
        self, method: str, path: str, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> Response:
        if method in READ_METHODS:
            query = query_of(scope) if scope.get("query_string") else {}
            meta = meta_requested(query.get("meta"))
            record = await self.service.get(path, count_hit=method == "GET" and not meta)
            now = self.service.clock()
            doc_headers = _document_headers(record, now)
            if_none_match = header(headers, b"if-none-match")
            if if_none_match is not None and etags.none_match(if_none_match, record.tag):
                return Response(304, content_type=None, headers=doc_headers)
            body = meta_view(record, now) if meta else record.body
            return Response(200, body, headers=doc_headers)
        if method == "PUT":
            return await self.put(path, scope, headers, receive)
        if method == "DELETE":
            expect = etags.write_condition(header(headers, b"if-match"),
                                           header(headers, b"if-none-match"))
            await self.service.delete(path, expect)
            return Response(204, content_type=None)
        raise MethodNotAllowed(f"{method} is not supported on documents",
                               headers={"allow": DOCUMENT_METHODS})

    async def put(
        self, path: str, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> Response:
        content_type = header(headers, b"content-type") or ""
        require_supported(content_type)
        query = query_of(scope)
        ttl = self.service.ttl(query.get("ttl"))
        expect = etags.write_condition(header(headers, b"if-match"),
                                       header(headers, b"if-none-match"))
        body = await read_body(receive, headers, self.settings.max_body_bytes,
                               self._body_deadlines, self.settings.body_timeout)
        record, created = await self.service.put(path, content_type, body, ttl, expect)
        now = self.service.clock()
        response_headers = _document_headers(record, now)
        if created:
            response_headers.append((b"location", _location(path)))
        return Response(201 if created else 200, meta_view(record, now), headers=response_headers)


def _location(path: str) -> bytes:
    if _URL_SAFE.fullmatch(path):  # the common case, without quote()'s layers
        return path.encode("ascii")
    return quote(path, safe="/").encode("ascii")


def create_app(settings: Settings | None = None, store: Store | None = None,
               draining: Callable[[], bool] = lambda: False,
               process: WorkerProcess | None = None) -> App:
    """The app factory: tests pass their own settings and store.

    process tunes the whole process once the app has started (the garbage collector,
    thread scheduling, CPU affinity), so only a serving worker passes one (asgi.py).
    """
    return App(settings or Settings.from_env(), store, draining, process)

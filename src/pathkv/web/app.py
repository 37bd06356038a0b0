"""The ASGI application: wires settings, store, service and the route table, and runs the
life of a request through them.

A request is read once (request.py) and given an id, seen by the guards (CORS, and later
authentication) and passed through the wrappers to the route table (routes/); every error
becomes problem+json in one place (``App.handle``); the answer is finished (the id's echo, the
cache policy, CORS headers), sent (streams.py), and then seen by the observers (metrics,
access log). wrappers.py says what goes in each stage. The app owns no globals:
``create_app`` builds one from settings, and tests pass their own store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

from pathkv import jsonlog
from pathkv.config import Settings
from pathkv.core.accounts import Accounts
from pathkv.core.contract import Store
from pathkv.core.service import Policy, Service
from pathkv.stores.registry import engine_for, open_store
from pathkv.web import logs, routes
from pathkv.web.auth import Authenticator, rate_headers
from pathkv.web.connections import Peer, peer_of
from pathkv.web.cors import Cors
from pathkv.web.deadlines import Deadlines
from pathkv.web.feed import FeedHub
from pathkv.web.metrics import Metrics
from pathkv.web.process import WorkerProcess
from pathkv.web.request import Receive, Request, Scope
from pathkv.web.responses import CLIENT_GONE, Response
from pathkv.web.router import Handler, Router
from pathkv.web.routes.admin import Admin
from pathkv.web.routes.counter import Counter
from pathkv.web.routes.dashboard import Dashboard
from pathkv.web.routes.documents import Documents
from pathkv.web.routes.endpoints import Endpoints
from pathkv.web.routes.feed import Feed
from pathkv.web.store_health import StoreWatch
from pathkv.web.streams import Send, deliver
from pathkv.web.timed_store import TimedStore
from pathkv.web.wrappers import (
    Finisher,
    Guard,
    Observer,
    RequestIds,
    Wrapper,
    cache_policy,
    compose,
    error_response,
)

log = logging.getLogger("pathkv")

# Metrics reach the exposition, and new threads of a serving worker are tuned, this often.
HOUSEKEEPING_INTERVAL = 1.0
# Whether the store takes writes is asked every this many housekeeping rounds.
HEALTH_EVERY = 5


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
        self.store_watch = StoreWatch(self.metrics)
        self.store = TimedStore(store if store is not None else open_store(settings), self.metrics)
        self.service = Service(
            self.store,
            Policy(
                settings.default_ttl,
                settings.max_ttl,
                settings.max_depth,
                settings.changes_max_age,
                settings.changes_max_events,
            ),
        )
        self.draining = draining
        self._background: list[asyncio.Task[None]] = []
        self._body_deadlines = Deadlines()
        self.feed = FeedHub(self.store, draining, settings.shutdown_delay)
        self.accounts = Accounts(self.store, settings.admin_secret(), self.service.clock)
        self.router: Router = routes.table(
            Documents(self.service, settings, self._body_deadlines),
            Counter(self.service),
            Endpoints(self.service, self.metrics, draining, self.store_watch),
            Admin(self.accounts, self._body_deadlines, settings.body_timeout),
            Feed(self.store, self.feed, settings.watch_heartbeat, settings.watch_buffer),
            Dashboard(),
            settings.max_path_bytes,
        )
        self.auth = (
            Authenticator(self.accounts, settings.metrics_auth) if settings.auth_on() else None
        )
        self._request_ids = RequestIds()
        # Peers with a request in flight: their connections are in use (connections.py).
        self.active_peers: set[Peer] = set()
        cors = Cors(settings.cors_origins_list)
        self.guards: list[Guard] = [cors.guard]
        self.wrappers: list[Wrapper] = []
        self.finishers: list[Finisher] = [self._request_ids.echo, cache_policy]
        if cors.allowed:
            self.finishers.append(cors.finish)
        if self.auth is not None:
            self.finishers.append(rate_headers)
        self.observers: list[Observer] = [self.metrics.observe_request, logs.access]
        self._handle: Handler | None = None
        self.rewire()

    # ASGI entry ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        self._request_ids.assign(request)
        # A connection with a request in flight is in use, however silent the client is
        # while it waits (connections.py closes only the others).
        peer = peer_of(scope.get("client"))
        if peer is not None:
            self.active_peers.add(peer)
        try:
            # The guards, then the handler (through the wrappers, if any); whatever any of
            # them raises becomes the problem+json answer, here and nowhere else.
            # Tuning: inline rather than a method, and without wrappers the route's handler
            # is awaited directly: each coroutine level costs about 2% of an in-process GET.
            try:
                for guard in self.guards:
                    early = guard(request)
                    if early is not None:
                        response = early
                        break
                else:
                    if self._handle is not None:
                        response = await self._handle(request)
                    elif self.auth is None:
                        response = await self.router.resolve(request)(request)
                    else:
                        handler = self.router.resolve(request)
                        await self.auth.admit(request)
                        response = await handler(request)
            except Exception as exc:
                response = error_response(exc, request)
            for finish in self.finishers:
                finish(request, response)
            try:
                sent = await deliver(send, receive, request.method, response)
            except (OSError, RuntimeError):  # the client went away during the answer
                response.status, sent = CLIENT_GONE, 0
        finally:
            if peer is not None:
                self.active_peers.discard(peer)
        for observe in self.observers:
            observe(request, response, sent)

    def rewire(self) -> None:
        """Rebuild the handler chain after wrappers or routes were changed (tests, plugins)."""
        self._handle = compose(self._dispatch, self.wrappers) if self.wrappers else None

    async def _dispatch(self, request: Request) -> Response:
        """Route, authenticate (when on) and handle: what the wrappers wrap."""
        handler = self.router.resolve(request)
        if self.auth is not None:
            await self.auth.admit(request)
        return await handler(request)

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
        jsonlog.configure(self.settings.log_level)
        await self.store.open()
        self._body_deadlines.bind(asyncio.get_running_loop())
        if self._process is not None:
            self._process.start(engine_for(self.settings.store).works_off_loop)
        self._background.append(asyncio.create_task(self._housekeeping()))
        if self.settings.sweep_interval > 0:
            self._background.append(asyncio.create_task(self._sweep_periodically()))

    async def shutdown(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.feed.close()
        await self.store.close()
        self.metrics.flush()

    async def _housekeeping(self) -> None:
        for tick in itertools.count(1):
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            self.metrics.flush()
            if self._process is not None:
                self._process.upkeep(self.active_peers, self.draining())
            if tick % HEALTH_EVERY == 0:
                # Unreachable is readiness' business; this watches writability.
                with contextlib.suppress(Exception):
                    await self.store_watch.check(self.store)

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


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    draining: Callable[[], bool] = lambda: False,
    process: WorkerProcess | None = None,
) -> App:
    """The app factory: tests pass their own settings and store.

    process tunes the whole process once the app has started (the garbage collector,
    thread scheduling, CPU affinity), so only a serving worker passes one (asgi.py).
    """
    return App(settings or Settings.from_env(), store, draining, process)


__all__ = ["App", "create_app"]

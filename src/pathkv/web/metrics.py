"""Prometheus metrics: requests by method/route/status, request latency, store latency.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``pathkv serve``) makes
every worker write to shared files and /-/metrics aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from pathkv.stores.contract import Store

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pathkv_requests", "HTTP requests handled.", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pathkv_request_duration_seconds", "Time to answer an HTTP request.", ["route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.store_latency = Histogram(
            "pathkv_store_duration_seconds", "Time of one store operation.", ["operation"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(method, route, status)
        counter.inc()
        histogram = self._latency_children.get(route)
        if histogram is None:
            histogram = self._latency_children[route] = self.latency.labels(route)
        histogram.observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def timed(self, store: Store) -> Store:
        return cast(Store, _TimedStore(store, self.store_latency))


class _TimedStore:
    """Wraps every coroutine method of a store to record its duration by name."""

    def __init__(self, inner: Store, histogram: Histogram) -> None:
        self._inner = inner
        self._histogram = histogram

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name.startswith("_") or not callable(method):
            return method
        child = self._histogram.labels(name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await cast(Callable[..., Awaitable[Any]], method)(*args, **kwargs)
            finally:
                child.observe(time.perf_counter() - started)

        setattr(self, name, timed)
        return timed

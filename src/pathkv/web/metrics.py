"""Prometheus metrics: requests by method/route/status, request latency, store latency.

Tuning: requests add to plain in-process tallies (a dict increment and a bisect); ``flush`` moves
them into prometheus_client once a second and before every scrape. Profiling showed that
updating prometheus_client's multi-process values on every request cost about 15% of a
worker's CPU. With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` (set by
``pathkv serve``) makes each worker's flush land in shared files that /-/metrics aggregates,
so a scrape sees every worker's counts as of its last flush (at most one second old).
"""

from __future__ import annotations

import bisect
import os
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from pathkv.web.request import Request
from pathkv.web.responses import Response
from pathkv.web.router import KNOWN_METHODS

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class _Tally:
    """Bucket counts and sum of one histogram child, not yet flushed."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def take(self) -> _Tally | None:
        """The observations so far (None if there are none), leaving this tally empty."""
        if not self.total and not any(self.counts):
            return None
        taken = _Tally()
        taken.counts, self.counts = self.counts, taken.counts
        taken.total, self.total = self.total, 0.0
        return taken


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pathkv_requests",
            "HTTP requests handled.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pathkv_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_latency = Histogram(
            "pathkv_store_duration_seconds",
            "Time of one store operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_writable = Gauge(
            "pathkv_store_writable",
            "1 while the store takes writes, 0 while it refuses them (see /-/readyz for why).",
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self.store_writable.set(1)
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, _Tally] = {}
        self._store_latency: dict[str, _Tally] = {}

    def observe_request(self, request: Request, response: Response, sent: int) -> None:
        """The observer of every answered request (streams once they have ended)."""
        method = request.method
        route = request.route
        key = (method if method in KNOWN_METHODS else "OTHER", route, response.status)
        self._requests[key] = self._requests.get(key, 0) + 1
        tally = self._latency.get(route)
        if tally is None:
            tally = self._latency[route] = _Tally()
        tally.add(perf_counter() - request.started)

    def store_tally(self, operation: str) -> _Tally:
        """The tally of one store operation, kept for the life of the process: the store
        wrapper adds to it directly (once per request, so every call counts)."""
        tally = self._store_latency.get(operation)
        if tally is None:
            tally = self._store_latency[operation] = _Tally()
        return tally

    def flush(self) -> None:
        requests, self._requests = self._requests, {}
        for (method, route, status), count in requests.items():
            self.requests.labels(method, route, status).inc(count)
        for histogram, tallies in (
            (self.latency, self._latency),
            (self.store_latency, self._store_latency),
        ):
            for label, tally in tallies.items():
                taken = tally.take()
                if taken is not None:
                    _add_to_histogram(histogram.labels(label), taken)

    def exposition(self) -> bytes:
        self.flush()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def _add_to_histogram(child: Any, tally: _Tally) -> None:
    """Add many observations at once (prometheus_client has no public call for it).

    A child keeps one non-cumulative value per bucket (``_buckets``) and ``_sum``, in
    memory or in the multi-process files alike; tests/web check the exposed counts.
    """
    for index, count in enumerate(tally.counts):
        if count:
            child._buckets[index].inc(count)
    child._sum.inc(tally.total)

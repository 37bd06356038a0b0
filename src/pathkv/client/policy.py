"""When to try again, and how long to wait: one rule for both clients."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from pathkv.client.calls import Retry
from pathkv.client.errors import Busy, NotReady, PathkvError, RateLimited, Unavailable

# Failures after which the server did nothing, so any call may be repeated.
UNDONE_TRANSPORT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
UNDONE_PROBLEMS = (Busy, NotReady, RateLimited)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (a random wait up to the exponential bound), so
    clients that failed together do not come back together."""

    retries: int = 3
    base: float = 0.1
    cap: float = 5.0
    rate_limited: bool = False
    """Wait out a 429's Retry-After and try again (else raise RateLimited at once)."""
    max_retry_after: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2**attempt))

    def after_transport(
        self, retry: Retry, error: httpx.TransportError, attempt: int
    ) -> float | None:
        """Seconds to wait before sending again, or None to give up."""
        if attempt >= self.retries:
            return None
        if retry is Retry.ANY or isinstance(error, UNDONE_TRANSPORT):
            return self.delay(attempt)
        return None

    def after_problem(self, retry: Retry, error: PathkvError, attempt: int) -> float | None:
        if attempt >= self.retries:
            return None
        if isinstance(error, RateLimited):
            if not self.rate_limited or error.retry_after > self.max_retry_after:
                return None
            return error.retry_after + random.uniform(0, self.base)
        if not isinstance(error, Unavailable):
            return None
        if retry is Retry.ANY or isinstance(error, UNDONE_PROBLEMS):
            return self.delay(attempt)
        return None

    def reconnect(self, failures: int, asked: float | None) -> float:
        """Before reconnecting a watch: the server's ``retry:`` at first, growing with
        consecutive failures up to the cap."""
        floor = asked if asked is not None else self.base
        return floor + random.uniform(0, min(self.cap, self.base * 2**failures))

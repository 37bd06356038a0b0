"""Whether the store takes writes: asked every few seconds and by readiness, shown as the
``pathkv_store_writable`` gauge and in ``/-/readyz``, and logged once each time it changes.

Readiness stays 200 while the store serves reads but refuses writes (a full disk, a damaged
file, Redis out of memory or with an evicting policy): every replica shares the store, so
taking them all out of a load balancer would only turn failed writes into failed reads.
"""

from __future__ import annotations

import asyncio
import logging

from pathkv.core.contract import Store, StoreHealth
from pathkv.web.metrics import Metrics

log = logging.getLogger("pathkv")
CHECK_TIMEOUT = 2.0


class StoreWatch:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.health = StoreHealth()

    async def check(self, store: Store) -> StoreHealth:
        """Ask the store (StoreError, TimeoutError: it cannot be reached at all)."""
        async with asyncio.timeout(CHECK_TIMEOUT):
            health = await store.health()
        self.note(health)
        return health

    def note(self, health: StoreHealth) -> None:
        if health != self.health:
            if health.writable:
                log.warning("the store takes writes again")
            else:
                log.error("the store refuses writes: %s", health.reason)
        self.health = health
        self._metrics.store_writable.set(1 if health.writable else 0)

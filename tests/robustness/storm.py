"""A bounded concurrent write storm over real HTTP that records every acknowledged write."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Storm:
    base: str
    clients: int = 16
    acknowledged: dict[str, bytes] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self, index: int) -> None:
        deadline = time.monotonic() + 60  # bounded even if nobody calls stop()
        n = 0
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                n += 1
                path = f"/storm/{index}/{n}"
                body = b'{"client":%d,"n":%d,"pad":"%s"}' % (index, n, b"x" * (n % 300))
                try:
                    response = client.put(
                        path, content=body, headers={"content-type": "application/json"}
                    )
                except httpx.HTTPError:
                    with self._lock:
                        self.failures[0] = self.failures.get(0, 0) + 1
                    time.sleep(0.01)
                    continue
                with self._lock:
                    if response.status_code in (200, 201):
                        self.acknowledged[path] = body
                    else:
                        code = response.status_code
                        self.failures[code] = self.failures.get(code, 0) + 1

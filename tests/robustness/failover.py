"""A primary killed under a stream of writes (Sentinel and Cluster both): which writes were
acknowledged, refused and lost, and how long writes were refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Writes:
    """PUTs from a thread, one at a time: which were acknowledged, and when."""

    base: str
    acknowledged: list[tuple[int, float]] = field(default_factory=list)
    refused: list[tuple[int, float, int]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stopping.is_set():
                n += 1
                try:
                    status = client.put(f"/w/{n}", json={"n": n}).status_code
                except httpx.HTTPError:
                    status = 0
                now = time.monotonic()
                if status in (200, 201):
                    self.acknowledged.append((n, now))
                else:
                    self.refused.append((n, now, status))
                    time.sleep(0.02)


def readable(client: httpx.Client, n: int) -> bool:
    """Whether write n is there. A 503 is not an answer (a replica of pathkv whose client
    has not yet seen the new primary): ask again for a few seconds."""
    deadline = time.monotonic() + 10
    while (response := client.get(f"/w/{n}")).status_code in (503, 504):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return response.status_code == 200 and response.json() == {"n": n}


@dataclass
class Outcome:
    writes: Writes
    killed: float
    recovered: float
    """Seconds from the kill to the first write acknowledged after it (past half a second)."""
    before: list[int]
    """Writes acknowledged before the kill."""
    lost: list[int]
    """Acknowledged writes that are not there afterwards."""

    def report(self, what: str) -> str:
        return (
            f"{what}: writes refused for {self.recovered:.1f} s, {len(self.writes.refused)} "
            f"refused, {len(self.lost)} of {len(self.before)} acknowledged before the kill lost"
        )


def kill_under_writes(
    base: str,
    kill: Callable[[], None],
    promoted: Callable[[], bool],
    restart: Callable[[], None] | None = None,
    on_killed: Callable[[int], bool] = lambda n: True,
) -> Outcome:
    """Write for a second, kill(), then (if given) wait until promoted() and restart() the
    old primary, until writes are acknowledged again where the killed node held them
    (``on_killed(n)``: whether write n goes there; on a cluster only some do, the others
    never stop); then check every acknowledged write. Only writes to the killed node,
    acknowledged before the kill, may be lost."""
    writes = Writes(base)
    writer = threading.Thread(target=writes.run)
    writer.start()
    try:
        time.sleep(1.0)
        assert writes.acknowledged and not writes.refused, writes.refused[:5]
        killed = time.monotonic()
        kill()
        if restart is not None:
            while not promoted():
                assert time.monotonic() < killed + 30, "no failover"
                time.sleep(0.1)
            restart()
        deadline = killed + 40
        while not (
            again := [t for n, t in writes.acknowledged if on_killed(n) and t > killed + 0.5]
        ):
            assert time.monotonic() < deadline, f"no write since the kill: {writes.refused[-3:]}"
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        writes.stopping.set()
        writer.join(30)
    recovered = min(again) - killed
    before = [n for n, t in writes.acknowledged if t <= killed]
    with httpx.Client(base_url=base, timeout=5) as client:
        gone = [n for n, _ in writes.acknowledged if not readable(client, n)]
    outcome = Outcome(writes, killed, recovered, before, gone)
    written_after = [n for n, t in writes.acknowledged if on_killed(n) and t > min(again)]
    assert written_after, "no write to the new primary after the first"
    # (a write in flight at the kill may be acknowledged a moment after it, before it lands)
    exposed = {n for n, t in writes.acknowledged if on_killed(n) and t <= killed + 0.5}
    assert set(gone) <= exposed, gone
    # Every refusal was a clear 503 or 504, never an acknowledged write that is not there.
    assert {status for _, _, status in writes.refused} <= {0, 503, 504}
    return outcome

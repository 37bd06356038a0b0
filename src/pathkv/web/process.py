"""What a serving worker does to its own process: tuning (the garbage collector, thread
scheduling, CPU pinning when asked), and ending itself when its supervisor is gone.

All of it changes the whole process, so only the ASGI entry point (``asgi.create``) applies
it, once the app has started; tests that build an app in their own process do not.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from pathkv.web.connections import Peer, reap_idle

log = logging.getLogger("pathkv")

# Seconds an orphaned worker has to stop gracefully before it exits.
ORPHAN_GRACE = 5.0
PARENT_CHECK_INTERVAL = 0.5
# Lock files of claimed CPUs stay open for the life of the process: the lock is the claim.
_claims: list[int] = []


class WorkerProcess:
    """What a serving worker does to its own process: once at start, then every second."""

    def __init__(
        self,
        pin_lock_dir: Path | None = None,
        parent_pid: int | None = None,
        runtime_dir: Path | None = None,
        port: int | None = None,
        idle_timeout: float = 10.0,
    ) -> None:
        self._pin_lock_dir = pin_lock_dir
        self._runtime_dir = runtime_dir
        self._port = port
        self._idle_ms = int(idle_timeout * 1000)
        self._yield_to_loop = False
        if parent_pid is not None:
            threading.Thread(
                target=self._watch_parent, args=(parent_pid,), name="pathkv-parent", daemon=True
            ).start()

    def start(self, store_works_off_loop: bool) -> None:
        tune_garbage_collector()
        if self._pin_lock_dir is not None:
            pin_to_free_cpu(self._pin_lock_dir)
        self._yield_to_loop = store_works_off_loop
        if not store_works_off_loop:
            hand_the_gil_back_sooner()
        self.upkeep()

    def upkeep(self, active_peers: set[Peer] | None = None, draining: bool = False) -> None:
        """Runs on the event loop's thread (so it knows which thread that is), every second:
        a worker whose supervisor died stops, idle client connections are closed (while
        draining, at once: the server waits for open connections before it stops)."""
        if self._port is not None:
            reap_idle(self._port, 0 if draining else self._idle_ms, active_peers or set())
        if self._yield_to_loop:
            yield_to_event_loop(threading.get_native_id())

    def _watch_parent(self, parent_pid: int) -> None:
        """A thread from the worker's first moment (even before its app has started): once
        the supervising ``pathkv serve`` is gone (kill -9), nobody will stop this worker or
        clean up after it, so it stops itself gracefully and removes the runtime files."""
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_INTERVAL)
        log.warning("the serving process is gone; this worker stops")
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGTERM)
        # Nobody is left to enforce the kill timeout: a worker that has not stopped by then
        # ends anyway.
        time.sleep(ORPHAN_GRACE)
        os._exit(1)


def tune_garbage_collector() -> None:
    """Keep collector pauses out of request latency.

    Profiled under load: about 35 collections a second, the longest pausing a worker for
    60 ms, which set the p99 of PUT. Objects that exist once the app has started live as
    long as the process, so they are frozen out of every collection, and young
    collections run every 50,000 allocations instead of 700.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


# Tuning: seconds a thread waiting for the GIL waits before asking its holder for it (5 ms
# by default). Measured on SQLite under PUT load (bench/findings.md item 20): the writer
# thread, which holds the file's write lock while it runs its statements, waited up to 5 ms
# for the busy loop thread after each one; 4.5 ms p99 to run a batch, 0.3-1 ms with 1 ms.
SWITCH_INTERVAL = 0.001


def hand_the_gil_back_sooner() -> None:
    """For a store whose writer thread runs Python while it holds a lock other workers wait
    for (SQLite): let it have the GIL back within SWITCH_INTERVAL."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def pin_to_free_cpu(lock_dir: Path) -> int | None:
    """Pin every thread of this process to a CPU no other worker of this server holds.

    ``--pin-workers``: a worker is three busy threads (the event loop, the HTTP server's
    runtime, the Redis client's runtime) handing work to one another several times per
    request; on one CPU those hand-offs are cheap, across CPUs each is a cross-CPU wake-up
    (measured on 2 cores: about 15% more PUTs per second). Workers claim CPUs with a lock
    file each in ``lock_dir``; a lock dies with its process, so a restarted worker takes
    the CPU its predecessor held. With more workers than CPUs the rest stay unpinned.
    Returns the CPU, or None.
    """
    import fcntl  # POSIX only, like the option

    for cpu in sorted(os.sched_getaffinity(0)):
        fd = os.open(lock_dir / f"cpu-{cpu}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _claims.append(fd)
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setaffinity(int(thread), {cpu})
        return cpu
    log.warning("more workers than CPUs: this worker is not pinned")
    return None


def yield_to_event_loop(loop_thread: int) -> None:
    """Put every other thread of this process under SCHED_BATCH, so none preempts the loop.

    A worker's other threads (the HTTP server's runtime, the Redis client's) wake several
    times per request to hand work to or from the event loop, and each hand-off needs the
    GIL, which the loop's thread holds while it runs. Woken under the normal policy, such a
    thread preempted the loop's thread at once, only to wait for the GIL and switch back:
    measured under PUT load, 1.9 context switches of the loop's thread per request, 0.6
    with this, and 20-30% more requests per second. A SCHED_BATCH thread runs when the loop
    waits or at the next scheduler tick, with the same share of the CPU.

    Only for a store that works off the loop's thread (Redis): the loop then waits on it
    for every batch, and a demoted thread runs as soon as it does. With SQLite, reads run
    on the loop's own thread, which seldom waits: demoted, the HTTP runtime waited for
    scheduler ticks, and the p99 of SQLite writes grew from about 15 to 20 ms and more.

    Threads start at different times (the HTTP runtime after the app has started, blocking
    threads on demand), hence the upkeep call every second. Linux only; an unprivileged
    process may lower its own threads to SCHED_BATCH.
    """
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return
    for entry in os.listdir("/proc/self/task"):
        thread = int(entry)
        # The thread may end meanwhile; a sandbox may forbid the call: neither is fatal.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if thread != loop_thread and os.sched_getscheduler(thread) != batch:
                os.sched_setscheduler(thread, batch, os.sched_param(0))

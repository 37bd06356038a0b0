"""``pathkv serve``: granian running the ASGI app in worker processes.

Everything here runs in the main process, which only supervises: it checks what it can
before the workers start (the store, the address), hands the settings to the workers through
the environment, and turns SIGTERM into a drain (readiness 503 first, then stop accepting).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pathkv import __version__, jsonlog
from pathkv.cli.output import CliError
from pathkv.config import CPU_LOCK_DIR_ENV, DRAIN_FILE_ENV, PARENT_PID_ENV, Settings
from pathkv.stores.registry import engine_for, open_store

log = logging.getLogger("pathkv")
# Seconds granian gives a worker to finish its requests once it has been told to stop.
WORKERS_KILL_TIMEOUT = 30


def _check_store(settings: Settings) -> None:
    """Fail at start, with one line, on a store the workers could not open; a SQLite file
    is created (or migrated) here, once, before any worker opens it."""

    async def check() -> None:
        engine = engine_for(settings.store)
        store = open_store(settings)
        if engine.local:
            await store.open()
            await store.close()

    asyncio.run(check())


def listen_address(host: str) -> str:
    """An IP address to listen on: a name such as ``localhost`` is resolved here."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CliError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return str(infos[0][4][0])


def check_port_free(host: str, port: int) -> None:
    """Refuse to start on an address in use: the server opens its port with SO_REUSEPORT,
    so without this check a second server would silently share it with the first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"{host}:{port} is already in use by another process") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise CliError(f"cannot listen on {host}: not an address of this machine") from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def raise_open_files_limit(wanted: int) -> None:
    """Every connection is a file descriptor: raise the soft limit as far as allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning(
            "open files are limited to %d: fewer connections than PATHKV_MAX_CONNECTIONS "
            "can be open at once",
            target,
        )


def drain_on_signals(drain_file: Path, delay: float) -> Callable[[], None]:
    """A granian startup hook that wraps granian's own SIGTERM/SIGINT handlers.

    Granian installs its handlers before it calls startup hooks; this takes them as they are
    (``signal.getsignal``) and calls them later: SIGTERM first creates the drain file (every
    worker's readiness answers 503) and stops the server after ``delay``, so load balancers
    stop sending before the port closes. SIGINT stops at once.
    """

    def install() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            stop = signal.getsignal(signum)
            if not callable(stop):
                raise RuntimeError(f"the server installed no handler for {signum!r}")

            def drain_then_stop(signum: int, frame: Any, stop: Callable[..., Any] = stop) -> None:
                drain_file.touch()
                wait = delay if signum == signal.SIGTERM else 0
                threading.Timer(wait, stop, (signum, frame)).start()

            signal.signal(signum, drain_then_stop)

    return install


def serve(settings: Settings) -> int:
    # Nothing here may import prometheus_client before PROMETHEUS_MULTIPROC_DIR is set:
    # workers are forked and keep the value class chosen at its import.
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    jsonlog.configure(settings.log_level)
    raise_open_files_limit(settings.max_connections * settings.workers + 256)
    host = listen_address(settings.host)
    check_port_free(host, settings.port)
    # Protected mode: no start beyond loopback without a choice about authentication.
    auth = settings.with_host(host).auth_on()
    admin_secret = settings.admin_secret()
    _check_store(settings)
    runtime = Path(tempfile.mkdtemp(prefix="pathkv-"))
    drain_file = runtime / "draining"
    os.environ.update(settings.to_env())
    # The workers get the store's URL, already read from its file.
    os.environ.pop("PATHKV_STORE_FILE", None)
    os.environ[DRAIN_FILE_ENV] = str(drain_file)
    os.environ[PARENT_PID_ENV] = str(os.getpid())
    if settings.pin_workers:
        os.environ[CPU_LOCK_DIR_ENV] = str(runtime)
    if settings.workers > 1:
        metrics_dir = runtime / "metrics"
        metrics_dir.mkdir()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))

    server: Any = Server(
        "pathkv.web.asgi:create",
        address=host,
        port=settings.port,
        interface=Interfaces.ASGI,
        # Tuning: not "auto": granian picks rloop whenever it happens to be installed;
        # measured here, rloop kept a cancelled timer's callback (and so its finished request
        # task) alive until the timer's deadline, and collector pauses grew to 30 ms.
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
        workers=settings.workers,
        factory=True,
        log_level=LogLevels.warning,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout * 1000), max_buffer_size=64 * 1024
        ),
        workers_kill_timeout=WORKERS_KILL_TIMEOUT,
        # A connection holds one of these from its accept to its close; idle ones are
        # closed by the workers (web/connections.py).
        backpressure=settings.max_connections,
        backlog=min(65535, settings.max_connections * settings.workers),
        # A worker that dies is replaced while the others keep serving.
        respawn_failed_workers=True,
    )
    server.on_startup(drain_on_signals(drain_file, settings.shutdown_delay))
    engine = engine_for(settings.store)
    log.info(
        "pathkv %s serving http://%s:%d",
        __version__,
        host,
        settings.port,
        extra={
            "address": f"http://{host}:{settings.port}",
            "workers": settings.workers,
            "store": engine.location(settings.store),
            "version": __version__,
            "auth": "on" if auth else "off",
        },
    )
    if auth and admin_secret is None:
        log.info(
            "auth is on without PATHKV_ADMIN_TOKEN: only admin tokens made with "
            "'pathkv token create --admin' can manage tenants and tokens"
        )
    trouble = engine.problem(settings)
    if trouble is not None:
        log.warning(
            "the store is not usable yet (%s); answering 503 until it is",
            trouble,
            extra={"store": engine.location(settings.store)},
        )
    try:
        server.serve()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return 0

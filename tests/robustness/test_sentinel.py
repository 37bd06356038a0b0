"""Redis Sentinel, for real: a primary, a replica and three sentinels on loopback, the
primary killed with kill -9 in the middle of writes; pathkv follows the new primary without a
restart. And PATHKV_REDIS_WAIT_REPLICAS: a write is acknowledged only once a replica has it."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerRunner
from tests.robustness.failover import kill_under_writes
from tests.servers import PathkvServer, RedisServer, free_port, redis_binaries, wait_for_port

MASTER = "pkv"


def binary() -> Path:
    found = redis_binaries()
    assert found, "no Redis-compatible server binary: install the test extras"
    return found.get("redis") or next(iter(found.values()))


@dataclass
class Sentinel:
    workdir: Path
    primary_port: int
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 4000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self.proc = subprocess.Popen(
            [str(binary()), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass
class Group:
    primary: RedisServer
    replica: RedisServer
    sentinels: list[Sentinel]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def wait_replicated(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.replica.info("master_link_status") == "up":
                return
            time.sleep(0.1)
        raise TimeoutError("the replica never caught up with the primary")


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    primary = RedisServer(binary(), tmp_path / "primary")
    primary.start()
    replica = RedisServer(
        binary(), tmp_path / "replica", extra=("--replicaof", "127.0.0.1", str(primary.port))
    )
    replica.start()
    sentinels = [Sentinel(tmp_path / f"sentinel-{i}", primary.port) for i in range(3)]
    for sentinel in sentinels:
        sentinel.start()
    found = Group(primary, replica, sentinels)
    found.wait_replicated()
    yield found
    for sentinel in sentinels:
        sentinel.stop()
    for server in (replica, primary):
        server.stop(signal.SIGKILL)


@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_pathkv_follows_a_failover_without_a_restart(
    group: Group, tmp_path: Path, run_server: ServerRunner, wait_replicas: int
) -> None:
    """Without WAIT, a write acknowledged by the primary but not yet copied is lost with it
    (asynchronous replication); with PATHKV_REDIS_WAIT_REPLICAS=1 none is, and writes wait
    (503) until the new primary has a replica again: here the old one, restarted."""
    env = {"PATHKV_AUTH": "off", "PATHKV_REDIS_TIMEOUT": "0.5"}
    if wait_replicas:
        env |= {
            "PATHKV_REDIS_WAIT_REPLICAS": str(wait_replicas),
            "PATHKV_REDIS_WAIT_TIMEOUT": "0.5",
        }
    server = run_server(PathkvServer(group.url, env=env, workers=2, log=tmp_path / "pathkv.log"))
    outcome = kill_under_writes(
        server.base,
        lambda: group.primary.stop(signal.SIGKILL),
        lambda: group.replica.info("role") == "master",
        # Once the replica has taken over, bring the old primary back: the sentinels make it
        # the new primary's replica.
        group.primary.start if wait_replicas else None,
    )
    print(outcome.report(f"failover, PATHKV_REDIS_WAIT_REPLICAS={wait_replicas}"))
    if wait_replicas:
        assert outcome.lost == []
    # The new primary is the old replica, and pathkv writes to it.
    assert group.replica.info("role") == "master"
    assert httpx.get(server.base + "/-/readyz").status_code == 200
    log = (tmp_path / "pathkv.log").read_text()
    assert f"Redis primary '{MASTER}' is at 127.0.0.1:{group.replica.port}" in log


def test_writes_wait_for_a_replica_when_asked(
    group: Group, tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(
            group.url,
            env={
                "PATHKV_AUTH": "off",
                "PATHKV_REDIS_WAIT_REPLICAS": "1",
                "PATHKV_REDIS_WAIT_TIMEOUT": "0.3",
            },
            log=tmp_path / "pathkv.log",
        )
    )
    with httpx.Client(base_url=server.base, timeout=5) as client:
        assert client.put("/kept", json={"a": 1}).status_code == 201
        # The replica has it the moment it is acknowledged.
        assert b"kept" in group.replica.command("KEYS", "*kept*")
        assert group.replica.proc is not None
        group.replica.proc.send_signal(signal.SIGSTOP)
        try:
            refused = client.put("/unreplicated", json={"a": 2})
            assert refused.status_code == 503, refused.text
            assert "replicas" in refused.json()["detail"]
            assert client.get("/kept").status_code == 200  # reads go on
        finally:
            group.replica.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while client.put("/again", json={"a": 3}).status_code != 201:
            assert time.monotonic() < deadline
            time.sleep(0.1)

"""A real `pathkv serve` process on a loopback port."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from tests.conftest import ServerRunner
from tests.servers import PathkvServer, RedisServer

T = TypeVar("T")


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def test_data_survives_sigterm_and_restart(tmp_path: Path) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'd.db'}", log=tmp_path / "log")
    server.start()
    with httpx.Client(base_url=server.base) as client:
        for i in range(20):
            response = client.put(f"/keep/{i}", json={"i": i, "big": 2**80})
            assert response.status_code == 201
        for _ in range(3):
            client.get("/keep/0")
        assert client.get("/").json() == {"count": 1}
    assert server.stop() == 0
    server.start()
    with httpx.Client(base_url=server.base) as client:
        for i in range(20):
            assert client.get(f"/keep/{i}").json() == {"i": i, "big": 2**80}
        assert client.get("/keep/0", params={"meta": "1"}).json()["hits"] == 4
        assert client.get("/").json() == {"count": 2}
    server.stop()


def test_several_workers_share_one_file(tmp_path: Path) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'w.db'}", workers=2, log=tmp_path / "log")
    server.start()
    try:
        with httpx.Client(base_url=server.base) as client:
            client.put("/shared", json={"a": 1})

        def hammer(_: int) -> list[int]:
            with httpx.Client(base_url=server.base) as c:
                counts = [c.get("/").json()["count"] for _ in range(25)]
                for _ in range(10):
                    assert c.get("/shared").status_code == 200
                return counts

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            counts = [n for chunk in pool.map(hammer, range(8)) for n in chunk]
        assert sorted(counts) == list(range(1, 201))
        with httpx.Client(base_url=server.base) as client:
            time.sleep(1.0)
            hits = client.get("/-/hits").json()["items"]
            assert hits == [{"path": "/shared", "hits": 80}]
            metrics = client.get("/-/metrics").text
            assert 'pathkv_requests_total{method="GET",route="/",status="200"} 200.0' in metrics
    finally:
        server.stop()


def _workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _per_thread(worker: int, read: Callable[[int], T]) -> dict[int, T]:
    """read(thread) for every thread of a worker process."""
    found = {}
    for thread in map(int, os.listdir(f"/proc/{worker}/task")):
        with contextlib.suppress(ProcessLookupError):  # an idle thread that just ended
            found[thread] = read(thread)
    return found


def test_pinned_workers_each_hold_a_cpu_of_their_own(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    server = PathkvServer(
        f"sqlite:///{tmp_path / 'pin.db'}",
        workers=2,
        env={"PATHKV_PIN_WORKERS": "true"},
        log=tmp_path / "server.log",
    )
    server.start()
    try:
        server.wait_ready()
        assert httpx.put(server.base + "/pinned", json={"a": 1}).status_code == 201
        assert server.proc is not None
        workers = _workers_of(server.proc.pid)
        assert len(workers) == 2
        held = []
        for worker in workers:
            affinities = set(
                _per_thread(worker, lambda t: frozenset(os.sched_getaffinity(t))).values()
            )
            assert len(affinities) == 1, affinities  # every thread of the worker alike
            held.append(affinities.pop())
        if len(cpus) >= 2:
            assert all(len(cpu) == 1 for cpu in held)
            assert held[0] != held[1]
        assert httpx.get(server.base + "/pinned").json() == {"a": 1}
    finally:
        server.stop()


def _worker_policies(
    server: PathkvServer, settled: Callable[[list[int]], bool]
) -> dict[int, dict[int, int]]:
    """Scheduling policy of every thread of every worker, once settled or after 10 s."""
    assert server.proc is not None
    workers = _workers_of(server.proc.pid)
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while True:
        policies = {worker: _per_thread(worker, os.sched_getscheduler) for worker in workers}
        helpers = [
            policy
            for worker, threads in policies.items()
            for thread, policy in threads.items()
            if thread != worker
        ]
        if settled(helpers) or time.monotonic() > deadline:
            return policies
        time.sleep(0.2)


def test_on_redis_only_the_event_loop_thread_keeps_the_normal_policy(
    tmp_path: Path, fresh_redis: RedisServer, run_server: ServerRunner
) -> None:
    """process.yield_to_event_loop: the HTTP runtime's thread starts after the app, so the
    upkeep has to catch it."""
    server = run_server(PathkvServer(fresh_redis.url, workers=2, log=tmp_path / "server.log"))
    server.wait_ready()
    assert httpx.put(server.base + "/policy", json={"a": 1}).status_code == 201
    policies = _worker_policies(server, lambda p: bool(p) and set(p) == {os.SCHED_BATCH})
    for worker, threads in policies.items():
        assert threads.pop(worker) == os.SCHED_OTHER  # the event loop's thread
        assert len(threads) >= 2  # at least the HTTP runtime and the Redis client
        assert set(threads.values()) == {os.SCHED_BATCH}, threads
    assert httpx.get(server.base + "/policy").json() == {"a": 1}


def test_on_sqlite_every_thread_keeps_the_normal_policy(
    tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(f"sqlite:///{tmp_path / 'policy.db'}", workers=2, log=tmp_path / "server.log")
    )
    server.wait_ready()
    assert httpx.put(server.base + "/policy", json={"a": 1}).status_code == 201
    time.sleep(2.5)  # two upkeep rounds
    policies = _worker_policies(server, lambda p: True)
    for threads in policies.values():
        assert len(threads) >= 3
        assert set(threads.values()) == {os.SCHED_OTHER}, threads


def test_raw_paths_on_the_socket(sqlite_server: PathkvServer) -> None:
    port = sqlite_server.port
    body = b'{"a":1}'
    put = (
        b"PUT /raw/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    assert raw_request(port, put).startswith(b"HTTP/1.1 201")
    for path in (b"//raw//x", b"/raw/x/", b"/raw/./x", b"/raw/y/../x", b"/raw/%78"):
        answer = raw_request(
            port, b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200"), path


def test_structured_request_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = PathkvServer(f"sqlite:///{tmp_path / 'l.db'}", log=log)
    server.start()
    httpx.get(server.base + "/nothing", headers={"x-request-id": "trace-7"})
    server.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line.get("request_id") == "trace-7")
    assert entry["method"] == "GET" and entry["status"] == 404
    assert entry["route"] == "/{path}" and entry["bytes"] > 0 and entry["duration_ms"] >= 0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pathkv.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_configuration_errors_are_one_line(tmp_path: Path) -> None:
    import os

    cases = [
        (["serve", "--store", "mongodb://x"], None, "unknown scheme"),
        (
            ["serve", "--store", f"sqlite:///{tmp_path}/file/in/a/file.db"],
            None,
            "cannot open SQLite",
        ),
        (["serve"], {"PATHKV_PORT": "eighty"}, "PATHKV_PORT"),
        (["serve", "--store", "redis://host:port/0"], None, "must be numbers"),
    ]
    (tmp_path / "file").write_text("not a directory")
    for args, extra, fragment in cases:
        result = run_cli(*args, env={**os.environ, **(extra or {})})
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], result.stderr
        assert "Traceback" not in result.stderr


def test_version() -> None:
    from pathkv import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"pathkv {__version__}"

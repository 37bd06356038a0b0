"""SIGTERM under load: readiness turns 503 first, accepted requests complete, no resets.

The load clients behave as a load balancer does: they stop opening new connections once
readiness answers 503. Every request sent before then, and every request still in flight
(a body still arriving), must be answered in full: the server keeps accepting for
PATHKV_SHUTDOWN_DELAY after SIGTERM, then drains.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import httpx

from tests.servers import PathkvServer


def slow_put(port: int, path: str, results: dict[str, bytes], seconds: float) -> None:
    """A PUT whose body trickles in over `seconds`: in flight when SIGTERM arrives."""
    body = b'{"slow":"' + b"s" * 18 + b'"}'
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for i in range(0, len(body), 4):
            sock.sendall(body[i : i + 4])
            time.sleep(seconds / (len(body) / 4))
        sock.settimeout(10)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError as exc:
            answer += f"<{type(exc).__name__}>".encode()
        results[path] = answer


def test_sigterm_drains(tmp_path: Path) -> None:
    server = PathkvServer(
        f"sqlite:///{tmp_path / 's.db'}",
        workers=2,
        log=tmp_path / "log",
        env={"PATHKV_SHUTDOWN_DELAY": "1.0"},
    )
    server.start()
    port = server.port
    slow: dict[str, bytes] = {}
    accepted_errors: list[str] = []
    answered: list[int] = []
    stop = threading.Event()  # set once readiness answers 503: no new connections

    def load() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                sock = socket.create_connection(("127.0.0.1", port), 5)
            except OSError as exc:
                accepted_errors.append(f"connect: {type(exc).__name__}")
                continue
            with sock:
                try:
                    sock.sendall(b"GET /-/healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    sock.settimeout(5)
                    answer = sock.recv(65536)
                except OSError as exc:
                    accepted_errors.append(type(exc).__name__)
                    continue
                if answer.startswith(b"HTTP/1.1 "):
                    answered.append(int(answer[9:12]))
                elif answer:
                    accepted_errors.append(answer[:40].decode("latin-1"))

    loaders = [threading.Thread(target=load) for _ in range(4)]
    for thread in loaders:
        thread.start()
    writers = [
        threading.Thread(target=slow_put, args=(port, f"/inflight/{i}", slow, 2.0))
        for i in range(6)
    ]
    for thread in writers:
        thread.start()
    time.sleep(0.5)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    # Readiness turns 503 within the shutdown delay, while the server still accepts.
    while (readiness := httpx.get(server.base + "/-/readyz", timeout=5)).status_code == 200:
        assert time.monotonic() - signalled < 0.8, "readiness did not turn 503 in time"
        time.sleep(0.02)
    stop.set()
    assert readiness.status_code == 503
    assert readiness.headers["content-type"] == "application/problem+json"
    assert httpx.get(server.base + "/-/healthz", timeout=5).status_code == 200
    for thread in writers:
        thread.join(30)
    assert server.proc.wait(30) == 0
    for thread in loaders:
        thread.join(30)
    server.proc = None

    assert len(slow) == 6
    for path, answer in slow.items():
        assert answer.startswith(b"HTTP/1.1 201"), (path, answer[:200])
    assert answered and set(answered) == {200}
    assert not accepted_errors, accepted_errors

    server.start()
    try:
        for path in slow:
            assert httpx.get(server.base + path).json() == {"slow": "s" * 18}
    finally:
        server.stop()

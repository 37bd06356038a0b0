"""Streamed answers over real sockets: sent as produced, with backpressure, ended cleanly
when the client goes away, and counted by metrics and the access log once they end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port, wait_for_port


@pytest.fixture
def stream_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    notes = tmp_path / "notes"
    notes.mkdir()
    log = tmp_path / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "STREAM_TEST_DIR": str(notes),
        "PATHKV_STORE": f"sqlite:///{tmp_path / 's.db'}",
        "PATHKV_LOG_LEVEL": "INFO",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "tests.e2e.stream_app:create",
            ],
            env=env,
            stdout=out,
            stderr=out,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}", notes, log
    finally:
        proc.terminate()
        proc.wait(20)


def wait_for(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)
    return path.read_text()


def access_line(log: Path, route: str, timeout: float = 5.0) -> dict[str, Any]:
    """The access log's line for route: written once the answer has been sent, so it may
    follow the stream's end by a moment."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if '"route"' in line]
        found = [e for e in lines if e["route"] == route]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no access log line for {route}"
        time.sleep(0.05)


def test_a_stream_arrives_chunk_by_chunk_and_ends(stream_server: tuple[str, Path, Path]) -> None:
    base, notes, log = stream_server
    arrivals = []
    with httpx.stream("GET", base + "/-/test/stream?limit=5", timeout=10) as answer:
        assert answer.status_code == 200
        assert "content-length" not in answer.headers
        assert answer.headers["x-request-id"]
        for line in answer.iter_lines():
            arrivals.append((time.monotonic(), line))
    assert [line[:6] for _, line in arrivals] == ["000001", "000002", "000003", "000004", "000005"]
    # sent as produced, not gathered: the chunks were 20 ms apart on arrival too
    assert arrivals[-1][0] - arrivals[0][0] >= 0.06
    assert wait_for(notes / "stream.closed") == "5"
    entry = access_line(log, "/-/test/stream")
    assert entry["status"] == 200 and entry["bytes"] == 5 * 16


def test_a_client_that_goes_away_ends_the_stream(stream_server: tuple[str, Path, Path]) -> None:
    base, notes, _ = stream_server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(b"GET /-/test/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        received = b""
        while received.count(b"\n000") < 2:
            received += sock.recv(4096)
    produced_when_gone = int(wait_for(notes / "stream.closed", timeout=5))
    assert produced_when_gone < 100  # the endless stream stopped within moments
    time.sleep(0.3)
    assert int((notes / "stream.produced").read_text()) == produced_when_gone
    metrics = httpx.get(base + "/-/metrics").text
    assert 'pathkv_requests_total{method="GET",route="/-/test/stream",status="200"} 1.0' in metrics


def test_a_reader_that_does_not_read_holds_the_producer_back(
    stream_server: tuple[str, Path, Path],
) -> None:
    base, notes, _ = stream_server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /-/test/flood HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(notes / "flood.produced")
        time.sleep(1.0)
        produced = int((notes / "flood.produced").read_text())
        # unthrottled, a second would produce thousands of 64 KiB chunks; with the client
        # not reading, what is produced is what the socket buffers hold
        assert produced < 400, produced
        sock.recv(1024)
    assert wait_for(notes / "flood.closed", timeout=10)

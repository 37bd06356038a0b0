"""The server process and its sockets, as an operator and an attacker meet them: idle
connections, malformed framing, addresses in use, a dead supervisor or worker, start-up
lines, and the command line's one-line errors."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerRunner
from tests.robustness.test_hostile_http import exchange
from tests.servers import PathkvServer, _children, free_port


def raw(port: int, request: bytes, timeout: float = 5) -> bytes:
    """The status line and headers of the answer to raw request bytes (b"" if none)."""
    try:
        status, headers, _ = exchange(port, request, timeout)
    except (ValueError, IndexError):  # the connection closed without an answer
        return b""
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 {status}\r\n{lines}".encode("latin-1")


def health(port: int, timeout: float = 2) -> bool:
    try:
        answer = raw(port, b"GET /-/healthz HTTP/1.1\r\nHost: t\r\n\r\n", timeout)
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.1 200")


def test_thousands_of_silent_sockets_do_not_stop_the_service(
    tmp_path: Path, run_server: ServerRunner
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3500
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    server = run_server(
        PathkvServer(
            f"sqlite:///{tmp_path / 'idle.db'}",
            workers=2,
            log=tmp_path / "log",
            env={"PATHKV_IDLE_TIMEOUT": "2", "PATHKV_MAX_CONNECTIONS": "1000"},
        )
    )
    server.wait_ready(steady=0.5)
    silent = []
    try:
        for _ in range(3000):  # more than both workers' 2 x 1000 connections
            silent.append(socket.create_connection(("127.0.0.1", server.port), 5))
        started = time.monotonic()
        while not health(server.port):
            assert time.monotonic() - started < 8, "health checks never got through"
        # the silent sockets were closed by the server, not left to hold its slots
        closed = 0
        for sock in silent[:200]:
            sock.settimeout(0.01)
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                closed += 1
        assert closed > 0
    finally:
        for sock in silent:
            sock.close()
    log = (tmp_path / "log").read_text()
    assert '"msg":"closed idle connections"' in log


def test_host_is_required_exactly_once(sqlite_server: PathkvServer) -> None:
    missing = raw(sqlite_server.port, b"GET /-/healthz HTTP/1.1\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 400"), missing[:200]
    assert b"application/problem+json" in missing
    twice = raw(sqlite_server.port, b"GET /-/healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert twice.startswith(b"HTTP/1.1 400"), twice[:200]


def test_a_malformed_chunk_size_is_a_logged_400(sqlite_server: PathkvServer) -> None:
    answer = raw(
        sqlite_server.port,
        b"PUT /chunky HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    # either a 400 problem or a closed connection, never the server's plain 500
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert httpx.get(sqlite_server.base + "/chunky").status_code == 404
    metrics = httpx.get(sqlite_server.base + "/-/metrics").text
    assert 'status="500"' not in metrics and 'status="499"' not in metrics


def test_a_port_in_use_fails_the_start_with_one_line(
    sqlite_server: PathkvServer, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathkv",
            "serve",
            "--port",
            str(sqlite_server.port),
            "--store",
            f"sqlite:///{tmp_path / 'second.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert (
        errors[-1] == f"pathkv: error: 127.0.0.1:{sqlite_server.port} is already in use "
        "by another process"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "second.db").exists()


def test_host_names_and_foreign_addresses(tmp_path: Path, run_server: ServerRunner) -> None:
    foreign = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathkv",
            "serve",
            "--host",
            "192.0.2.1",
            "--port",
            str(free_port()),
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert foreign.returncode == 2 and "Traceback" not in foreign.stderr
    assert foreign.stderr.strip().endswith("not an address of this machine")
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathkv",
            "serve",
            "--host",
            "no-such-host.invalid",
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unknown.returncode == 2 and "cannot resolve host" in unknown.stderr
    server = PathkvServer(f"sqlite:///{tmp_path / 'l.db'}", log=tmp_path / "log")
    server.env["PATHKV_HOST"] = "localhost"
    run_server(server)
    assert health(server.port)


def test_workers_end_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'o.db'}", workers=2, log=tmp_path / "log")
    server.start()
    server.wait_ready(steady=0.5)
    assert server.proc is not None
    workers = [
        int(pid)
        for pid in Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        .read_text()
        .split()
    ]
    assert len(workers) >= 2
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers kept running without their supervisor"
        time.sleep(0.1)
    assert not health(server.port, timeout=0.5)
    runtime = [p for p in Path("/tmp").glob("pathkv-*") if (p / "draining").exists()]
    assert not [p for p in runtime if str(server.proc.pid) in p.name]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_a_dead_worker_is_replaced_while_the_others_serve(
    tmp_path: Path, run_server: ServerRunner
) -> None:
    server = run_server(
        PathkvServer(f"sqlite:///{tmp_path / 'w.db'}", workers=2, log=tmp_path / "log")
    )
    server.wait_ready(steady=0.5)
    assert server.proc is not None
    before = set(_children(server.proc.pid))
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    failures = 0
    deadline = time.monotonic() + 15
    while True:
        failures += not health(server.port, timeout=1)
        now_workers = set(_children(server.proc.pid)) - {victim}
        if len(now_workers) >= len(before) and server.proc.poll() is None:
            break
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    assert server.proc.poll() is None  # the server did not exit
    assert failures <= 2
    server.wait_ready(steady=0.5)


def test_start_up_lines(tmp_path: Path, run_server: ServerRunner) -> None:
    port = free_port()  # nothing listens here: a refused connection
    server = run_server(
        PathkvServer(f"redis://user:s3cret@127.0.0.1:{port}/0", log=tmp_path / "log")
    )
    time.sleep(0.5)
    lines = [
        json.loads(line)
        for line in (tmp_path / "log").read_text().splitlines()
        if line.startswith("{")
    ]
    start = next(line for line in lines if line["msg"].startswith("pathkv "))
    assert start["address"] == f"http://127.0.0.1:{server.port}" and start["workers"] == 1
    assert start["store"] == f"redis://127.0.0.1:{port}/0" and start["version"]
    trouble = next(line for line in lines if "not usable yet" in line["msg"])
    assert "connection refused" in trouble["msg"]
    assert "s3cret" not in (tmp_path / "log").read_text()


def test_start_up_names_a_bad_database_number(
    tmp_path: Path, run_server: ServerRunner, fresh_redis: object
) -> None:
    url = fresh_redis.url.replace("/0", "/99")  # type: ignore[attr-defined]
    run_server(PathkvServer(url, log=tmp_path / "log"))
    time.sleep(0.5)
    assert "has no database 99" in (tmp_path / "log").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--workers", "0"], "pathkv: error: --workers / PATHKV_WORKERS must be positive"),
        (
            ["import", "-i", "/nonexistent/x.jsonl"],
            "pathkv: error: cannot open /nonexistent/x.jsonl: No such file or directory",
        ),
    ],
)
def test_command_line_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pathkv", *args, "--store", f"sqlite:///{tmp_path / 'c.db'}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in result.stderr


def test_export_into_a_closed_pipe_or_an_unwritable_file(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'e.db'}"
    lines = tmp_path / "in.jsonl"
    expires = (int(time.time()) + 3600) * 1000
    lines.write_text(
        "".join(
            f'{{"path":"/e/{i}","data":{{"i":{i}}},"version":1,"last_updated_ms":1,'
            f'"expires_at_ms":{expires},"hits":0}}\n'
            for i in range(3000)
        )
    )
    subprocess.run(
        [sys.executable, "-m", "pathkv", "import", "--store", store, "-i", str(lines)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    piped = subprocess.run(
        f"{sys.executable} -m pathkv export --store {store} | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(piped.stdout.splitlines()) == 2
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
    unwritable = subprocess.run(
        [sys.executable, "-m", "pathkv", "export", "--store", store, "-o", "/proc/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unwritable.returncode == 2 and "Traceback" not in unwritable.stderr
    assert unwritable.stderr.strip().startswith("pathkv: error: cannot open /proc/x")


def test_an_import_with_bad_lines_goes_on_and_says_which(tmp_path: Path) -> None:
    expires = (int(time.time()) + 3600) * 1000
    good = (
        '{"path":"/g/%d","data":{},"version":1,"last_updated_ms":1,"expires_at_ms":%d,"hits":0}\n'
    )
    lines = tmp_path / "mixed.jsonl"
    lines.write_text(
        good % (1, expires)
        + "not json\n"
        + good % (2, expires)
        + f'{{"path":"/big","data":{{}},"version":{2**64},"last_updated_ms":1,'
        '"expires_at_ms":1,"hits":0}\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pathkv",
            "import",
            "--store",
            f"sqlite:///{tmp_path / 'i.db'}",
            "-i",
            str(lines),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    *refusals, summary = result.stderr.strip().splitlines()
    assert refusals[0].startswith("pathkv: line 2 refused:")
    assert refusals[1].startswith("pathkv: line 4 refused:") and "2^63" in refusals[1]
    assert json.loads(summary) == {
        "restored": 2,
        "skipped": 0,
        "accounts": 0,
        "refused": 2,
        "refused_lines": [2, 4],
    }


def test_help_is_plain_text_and_names_the_variables() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pathkv", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "``" not in result.stdout
    assert "PATHKV_STORE" in result.stdout and "PATHKV_IDLE_TIMEOUT" in result.stdout

"""Hostile HTTP on a real socket: each attack gets a clear 4xx and the server keeps serving."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import PathkvServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PathkvServer]:
    tmp = tmp_path_factory.mktemp("hostile")
    srv = PathkvServer(
        f"sqlite:///{tmp / 'h.db'}",
        log=tmp / "server.log",
        env={"PATHKV_BODY_TIMEOUT": "1", "PATHKV_HEADER_TIMEOUT": "1"},
    )
    srv.start()
    yield srv
    srv.stop()


def exchange(port: int, request: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one response (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split()[1]), headers, body


def put_request(path: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"PUT "
        + path
        + b" HTTP/1.1\r\nHost: t\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )


def get_request(path: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def assert_still_serving(server: PathkvServer) -> None:
    assert httpx.get(server.base + "/-/healthz", timeout=5).status_code == 200


def problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict[str, str]:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    parsed: dict[str, str] = json.loads(body)
    assert parsed["status"] == expected
    return parsed


def test_slow_body_is_timed_out(server: PathkvServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        started = time.monotonic()
        sock.sendall(
            b"PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        answer = sock.recv(65536)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert elapsed < 5
    assert httpx.get(server.base + "/slow").status_code == 404
    assert_still_serving(server)


def test_body_in_pieces_then_another_request_on_the_connection(server: PathkvServer) -> None:
    """Reading stops at Content-Length: a body in pieces is whole, and the connection
    stays usable for the next request."""
    body = b'{"pieces":"' + b"x" * 3000 + b'"}'
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        sock.sendall(
            b"PUT /pieces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        for start in range(0, len(body), 1000):
            time.sleep(0.05)
            sock.sendall(body[start : start + 1000])
        first = sock.recv(65536)
        sock.sendall(b"GET /pieces HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        second = b""
        while chunk := sock.recv(65536):
            second += chunk
    assert first.startswith(b"HTTP/1.1 201"), first
    assert second.startswith(b"HTTP/1.1 200"), second
    assert second.endswith(body)


def test_slow_headers_are_cut_off(server: PathkvServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        answer = sock.recv(65536)  # the server closes the connection
        assert time.monotonic() - started < 5
    assert answer in (b"",) or answer.startswith(b"HTTP/1.1 408")
    assert_still_serving(server)


def test_many_slow_clients_do_not_starve_others(server: PathkvServer) -> None:
    sockets = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", server.port), 10)
        sock.sendall(
            b"PUT /starve HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        sockets.append(sock)
    try:
        started = time.monotonic()
        assert httpx.get(server.base + "/-/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 1
    finally:
        for sock in sockets:
            sock.close()


def test_oversized_headers(server: PathkvServer) -> None:
    status, _, _ = exchange(
        server.port, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    )
    assert status == 431
    assert_still_serving(server)


def test_body_over_limit_is_refused_before_it_is_read(server: PathkvServer) -> None:
    rss_before = server_rss(server)
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        sock.sendall(
            b"PUT /huge HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n" + b"[" * 65536
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    # Chunked, no length announced: refused as soon as the limit is passed.
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        sock.sendall(
            b"PUT /huge HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b"(reset after the answer was sent)"
    assert sent < 16 * 1024 * 1024, "the server kept reading past the limit"
    assert answer.startswith((b"HTTP/1.1 413", b"(reset")), answer
    assert server_rss(server) - rss_before < 32 * 1024
    assert httpx.get(server.base + "/huge").status_code == 404
    assert_still_serving(server)


def server_rss(server: PathkvServer) -> int:
    """KiB resident in the serving process and its workers."""
    from tests.servers import _children

    assert server.proc is not None
    total = 0
    for pid in [server.proc.pid, *_children(server.proc.pid)]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"/%ff%fe", 400),  # invalid UTF-8 after percent-decoding
        (b"/a%00b", 400),  # NUL
        (b"/a%0d%0aSet-Cookie:x", 400),
        (b"/../../etc/passwd", 400),
        (b"/" + b"a" * 5000, 414),
    ],
)
def test_hostile_paths(server: PathkvServer, path: bytes, expected: int) -> None:
    problem(*exchange(server.port, get_request(path)), expected)
    problem(*exchange(server.port, put_request(path, b"{}")), expected)
    assert_still_serving(server)


@pytest.mark.parametrize("path", [b"/a\x00b", b"/\xff\xfe", b"/a b"])
def test_raw_bytes_in_the_request_line(server: PathkvServer, path: bytes) -> None:
    status, _, _ = exchange(server.port, get_request(path))
    assert status == 400
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested"),
        (b'{"n": ' + b"9" * 10_000 + b"}", "not valid JSON"),
        (b"[1, 2]", "not an array"),
        (b'{"n": 1e999}', "range"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b'{"a": NaN}', "NaN"),
    ],
)
def test_hostile_documents(server: PathkvServer, body: bytes, fragment: str) -> None:
    parsed = problem(*exchange(server.port, put_request(b"/hostile", body)), 400)
    assert fragment in parsed["detail"].replace("must be a JSON object, not", "not"), parsed
    assert exchange(server.port, get_request(b"/hostile"))[0] == 404
    assert_still_serving(server)


def test_big_but_legal_numbers_round_trip(server: PathkvServer) -> None:
    digits = "9" * 4000
    status, _, _ = exchange(server.port, put_request(b"/bignum", b'{"n": %s}' % digits.encode()))
    assert status == 201
    assert exchange(server.port, get_request(b"/bignum"))[2] == b'{"n":%s}' % digits.encode()


def test_duplicate_keys_last_wins(server: PathkvServer) -> None:
    exchange(server.port, put_request(b"/dup", b'{"a": 1, "b": 2, "a": 3}'))
    assert json.loads(exchange(server.port, get_request(b"/dup"))[2]) == {"a": 3, "b": 2}


def test_garbage_request_line(server: PathkvServer) -> None:
    status, _, _ = exchange(server.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
    assert status == 400
    assert_still_serving(server)


def test_concurrent_attack_mix_keeps_serving(server: PathkvServer) -> None:
    errors: list[BaseException] = []

    def attack() -> None:
        try:
            for _ in range(10):
                exchange(server.port, put_request(b"/x", b"[" * 50_000))
                exchange(server.port, get_request(b"/%ff"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert_still_serving(server)

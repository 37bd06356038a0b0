"""The change feed over real sockets: `pathkv serve` with two workers on each store, auth on.

SSE streams are read raw from a socket (an HTTP client would buffer them), with deadlines so
a missing event fails the test instead of hanging it."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import store_kinds
from tests.servers import PathkvServer, RedisServer

ADMIN = "feed-admin-" + uuid.uuid4().hex
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN}"}
KINDS = store_kinds()[:2]


def store_url(
    kind: str, tmp: Path, redis_servers: dict[str, RedisServer]
) -> tuple[str, dict[str, str]]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'feed.db'}", {}
    server = redis_servers[kind.split(":", 1)[1]]
    return server.url, {"PATHKV_REDIS_PREFIX": f"f{uuid.uuid4().hex[:8]}:"}


def start(kind: str, tmp: Path, redis_servers: dict[str, RedisServer], **env: str) -> PathkvServer:
    tmp.mkdir(parents=True, exist_ok=True)
    url, extra = store_url(kind, tmp, redis_servers)
    settings = {
        "PATHKV_AUTH": "on",
        "PATHKV_ADMIN_TOKEN": ADMIN,
        "PATHKV_WATCH_HEARTBEAT": "1",
        **extra,
        **env,
    }
    server = PathkvServer(url, env=settings, workers=2, log=tmp / "server.log")
    server.start()
    server.wait_ready(steady=0.5)
    return server


@pytest.fixture(scope="module", params=KINDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_servers: dict[str, RedisServer],
) -> Iterator[PathkvServer]:
    running = start(request.param, tmp_path_factory.mktemp("feed"), redis_servers)
    yield running
    running.stop()


def call(server: PathkvServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=server.base, timeout=30) as client:
        return client.request(method, path, **kwargs)


def tenant_token(server: PathkvServer, scopes: Any = None) -> tuple[str, str]:
    name = "f-" + uuid.uuid4().hex[:10]
    assert (
        call(server, "PUT", f"/-/tenants/{name}", json={}, headers=ADMIN_HEADERS).status_code == 201
    )
    body = {"tenant": name, "scopes": scopes or [{"prefix": "/", "allow": ["read", "write"]}]}
    made = call(server, "POST", "/-/tokens", json=body, headers=ADMIN_HEADERS)
    return name, made.json()["token"]


def put(server: PathkvServer, token: str, path: str, value: Any) -> httpx.Response:
    answer = call(server, "PUT", path, json=value, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 201), answer.text
    return answer


@dataclass
class Event:
    id: str | None
    event: str
    data: Any


@dataclass
class Stream:
    """An open /-/watch, read raw."""

    conn: socket.socket
    buffer: bytes = b""
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    closed: bool = False

    def next(self, timeout: float = 10) -> Event:
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no event within {timeout} s; got {self.buffer[-300:]!r}")
            self.conn.settimeout(left)
            chunk = self.conn.recv(65536)
            if not chunk:
                self.closed = True
                raise EOFError("the stream ended")
            self.buffer += chunk
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        fields: dict[str, str] = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                self.comments.append(line)
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
        if "retry" in fields and len(fields) == 1:
            self.retry = int(fields["retry"])
            return self.next(max(0.1, deadline - time.monotonic()))
        if not fields:
            return self.next(max(0.1, deadline - time.monotonic()))
        return Event(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))

    def close(self) -> None:
        self.conn.close()


def watch(server: PathkvServer, token: str, query: str, last_id: str | None = None) -> Stream:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
    conn.sendall(
        f"GET /-/watch?{query} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: text/event-stream\r\n{extra}\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        assert chunk, "closed before the head"
        head += chunk
    status_line, rest = head.split(b"\r\n", 1)
    assert b" 200 " in status_line, head
    headers, body = rest.split(b"\r\n\r\n", 1)
    assert b"text/event-stream" in headers.lower()
    stream = Stream(conn)
    # chunked transfer: strip the chunk framing as it comes
    stream.conn = _Dechunk(conn, body)  # type: ignore[assignment]
    return stream


class _Dechunk:
    """A socket-like reader of a chunked body."""

    def __init__(self, conn: socket.socket, start: bytes) -> None:
        self._conn = conn
        self._raw = start
        self._timeout: float | None = None

    def settimeout(self, value: float) -> None:
        self._conn.settimeout(value)

    def recv(self, size: int) -> bytes:
        out = b""
        while not out:
            while b"\r\n" not in self._raw:
                chunk = self._conn.recv(size)
                if not chunk:
                    return b""
                self._raw += chunk
            length_line, rest = self._raw.split(b"\r\n", 1)
            length = int(length_line.split(b";")[0], 16)
            if length == 0:
                return b""
            while len(rest) < length + 2:
                chunk = self._conn.recv(size)
                if not chunk:
                    return b""
                rest += chunk
            out, self._raw = rest[:length], rest[length + 2 :]
        return out

    def close(self) -> None:
        self._conn.close()


def test_a_watch_sees_puts_and_deletes_in_order(server: PathkvServer) -> None:
    _, token = tenant_token(server)
    stream = watch(server, token, "prefix=/app/")
    try:
        put(server, token, "/app/a", {"v": 1})
        put(server, token, "/other", {"not": "seen"})
        put(server, token, "/app/a", {"v": 2})
        call(server, "DELETE", "/app/a", headers={"authorization": f"Bearer {token}"})
        events = [stream.next() for _ in range(3)]
    finally:
        stream.close()
    assert stream.retry is not None
    assert [(e.event, e.data["path"], e.data["version"]) for e in events] == [
        ("put", "/app/a", 1),
        ("put", "/app/a", 2),
        ("delete", "/app/a", 2),
    ]
    assert events[1].data["data"] == {"v": 2} and "data" not in events[2].data
    first = events[0].data
    assert {"path", "version", "etag", "last_updated", "expires_at", "data"} <= first.keys()
    assert first["etag"].startswith('"1-')
    assert len({e.id for e in events}) == 3 and all(e.id for e in events)


def test_resume_after_a_disconnect_loses_nothing_and_repeats_nothing(
    server: PathkvServer,
) -> None:
    _, token = tenant_token(server)
    stream = watch(server, token, "prefix=/r/")
    put(server, token, "/r/0", {"n": 0})
    last = stream.next()
    stream.close()
    for n in range(1, 21):
        put(server, token, f"/r/{n}", {"n": n})
    again = watch(server, token, "prefix=/r/", last_id=last.id)
    try:
        got = [again.next().data["data"]["n"] for _ in range(20)]
        put(server, token, "/r/21", {"n": 21})
        got.append(again.next().data["data"]["n"])
        with pytest.raises(TimeoutError):
            again.next(timeout=1.5)
    finally:
        again.close()
    assert got == list(range(1, 22))
    # ?since= does the same as Last-Event-ID
    since = watch(server, token, f"prefix=/r/&since={last.id}")
    try:
        assert since.next().data["data"] == {"n": 1}
    finally:
        since.close()


def test_watching_a_path_that_does_not_exist_yet(server: PathkvServer) -> None:
    _, token = tenant_token(server)
    stream = watch(server, token, "path=/later/doc")
    try:
        put(server, token, "/later/doc/child", {"no": 1})
        put(server, token, "/later/doc", {"yes": 1})
        event = stream.next()
    finally:
        stream.close()
    assert (event.event, event.data["path"], event.data["data"]) == (
        "put",
        "/later/doc",
        {"yes": 1},
    )


def test_heartbeats_keep_an_idle_stream_alive(server: PathkvServer) -> None:
    _, token = tenant_token(server)
    stream = watch(server, token, "prefix=/quiet/")
    try:
        with pytest.raises(TimeoutError):
            stream.next(timeout=2.5)
        assert stream.comments and stream.comments[0] == ": ping"
    finally:
        stream.close()


def test_feeds_carry_only_the_tenants_readable_documents(server: PathkvServer) -> None:
    tenant_a, token_a = tenant_token(server)
    _, token_b = tenant_token(server)
    reader = call(
        server,
        "POST",
        "/-/tokens",
        json={"tenant": tenant_a, "scopes": [{"prefix": "/pub", "allow": ["read"]}]},
        headers=ADMIN_HEADERS,
    ).json()["token"]
    watch_a, watch_b, watch_reader = (
        watch(server, token_a, "prefix=/"),
        watch(server, token_b, "prefix=/"),
        watch(server, reader, "prefix=/"),
    )
    try:
        put(server, token_a, "/secret", {"a": 1})
        put(server, token_a, "/pub/x", {"a": 2})
        put(server, token_b, "/pub/x", {"b": 1})
        assert [watch_a.next().data["path"] for _ in range(2)] == ["/secret", "/pub/x"]
        assert watch_b.next().data["data"] == {"b": 1}
        seen = watch_reader.next()
        assert (seen.data["path"], seen.data["data"]) == ("/pub/x", {"a": 2})
        with pytest.raises(TimeoutError):
            watch_b.next(timeout=1)
        with pytest.raises(TimeoutError):
            watch_reader.next(timeout=1)
    finally:
        for stream in (watch_a, watch_b, watch_reader):
            stream.close()


def test_long_poll(server: PathkvServer) -> None:
    _, token = tenant_token(server)
    auth = {"authorization": f"Bearer {token}"}
    start = call(server, "GET", "/-/changes?prefix=/lp/", headers=auth).json()
    assert start["items"] == [] and start["next"]
    cursor = start["next"]
    began = time.monotonic()
    empty = call(server, "GET", f"/-/changes?prefix=/lp/&since={cursor}&wait=1", headers=auth)
    assert empty.json() == {"items": [], "next": cursor}
    assert time.monotonic() - began >= 0.9

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            call, server, "GET", f"/-/changes?prefix=/lp/&since={cursor}&wait=20", headers=auth
        )
        time.sleep(0.5)
        put(server, token, "/lp/a", {"v": 1})
        answer = waiting.result(timeout=15).json()
    (item,) = answer["items"]
    assert item["event"] == "put" and item["path"] == "/lp/a" and item["data"] == {"v": 1}
    assert answer["next"] == item["id"] != cursor
    for n in range(5):
        put(server, token, f"/lp/{n}", {"n": n})
    page = call(
        server, "GET", f"/-/changes?prefix=/lp/&since={answer['next']}&limit=3", headers=auth
    ).json()
    assert [i["path"] for i in page["items"]] == ["/lp/0", "/lp/1", "/lp/2"]
    rest = call(server, "GET", f"/-/changes?prefix=/lp/&since={page['next']}", headers=auth).json()
    assert [i["path"] for i in rest["items"]] == ["/lp/3", "/lp/4"]
    for bad in ("since=nonsense", "wait=61", "limit=0", "prefix=x", "prefix=/a&path=/b"):
        assert call(server, "GET", f"/-/changes?{bad}", headers=auth).status_code == 400, bad
    assert call(server, "GET", "/-/changes").status_code == 401


def test_old_cursors_get_reset_and_410(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    for kind in KINDS:
        server = start(
            kind,
            tmp_path / kind.replace(":", "-"),
            redis_servers,
            PATHKV_CHANGES_MAX_EVENTS="3",
            PATHKV_SWEEP_INTERVAL="0.3",
        )
        try:
            _, token = tenant_token(server)
            auth = {"authorization": f"Bearer {token}"}
            cursor = call(server, "GET", "/-/changes", headers=auth).json()["next"]
            for n in range(8):
                put(server, token, f"/o/{n}", {"n": n})
            time.sleep(1.5)  # a sweep trims the feed to 3 changes
            gone = call(server, "GET", f"/-/changes?since={cursor}", headers=auth)
            assert gone.status_code == 410
            assert gone.json()["type"] == "urn:pathkv:problem:cursor-expired"
            stream = watch(server, token, "prefix=/o/", last_id=cursor)
            try:
                reset = stream.next()
                assert reset.event == "reset" and reset.id is None and reset.data["reason"]
                put(server, token, "/o/live", {"live": True})
                assert stream.next().data["path"] == "/o/live"
            finally:
                stream.close()
        finally:
            server.stop()


def test_a_slow_watcher_is_cut_off_without_slowing_writers(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    server = start(KINDS[0], tmp_path, redis_servers, PATHKV_WATCH_BUFFER="50")
    try:
        _, token = tenant_token(server)
        # The stuck client reads nothing while the writes go on: its receive buffer grows
        # only as it reads, so the server's sends soon wait and the watcher's 50 events
        # overflow. (A tiny SO_RCVBUF made that surer, but then what the server had queued
        # drained a few KB per delayed ACK, as loopback's MSS is larger than such a window:
        # minutes, past the test's time.)
        with socket.create_connection(("127.0.0.1", server.port)) as stuck:
            request = f"GET /-/watch?prefix=/ HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}"
            stuck.sendall(request.encode() + b"\r\n\r\n")
            time.sleep(0.5)
            big = {"blob": "x" * 20_000}
            began = time.monotonic()
            with httpx.Client(base_url=server.base, timeout=30) as client:
                for n in range(300):
                    answer = client.put(
                        f"/s/{n}", json=big, headers={"authorization": f"Bearer {token}"}
                    )
                    assert answer.status_code == 201
            assert time.monotonic() - began < 60  # writers went on (no timing claim beyond)
            stuck.settimeout(10)
            received = b""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                chunk = stuck.recv(1 << 20)
                if not chunk:
                    break
                received += chunk
            else:
                pytest.fail(f"the stream did not end; {len(received)} bytes read in 60 s")
            assert b"event: reset" in received and b"fell too far behind" in received
    finally:
        server.stop()


def test_resume_across_a_restart_and_a_kill(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    for kind in KINDS:
        server = start(kind, tmp_path / kind.replace(":", "-"), redis_servers)
        _, token = tenant_token(server)
        stream = watch(server, token, "prefix=/k/")
        put(server, token, "/k/0", {"n": 0})
        last = stream.next()
        stream.close()
        for n in range(1, 6):
            put(server, token, f"/k/{n}", {"n": n})
        server.kill()  # kill -9 right after the acknowledgements
        server.start()
        server.wait_ready(steady=0.5)
        for n in range(6, 9):
            put(server, token, f"/k/{n}", {"n": n})
        resumed = watch(server, token, "prefix=/k/", last_id=last.id)
        try:
            got = [resumed.next().data["data"]["n"] for _ in range(8)]
        finally:
            resumed.close()
            server.stop()
        assert got == list(range(1, 9)), kind


def test_streams_end_on_sigterm_after_the_drain_delay(
    tmp_path: Path, redis_servers: dict[str, RedisServer]
) -> None:
    server = start(KINDS[0], tmp_path, redis_servers, PATHKV_SHUTDOWN_DELAY="1")
    _, token = tenant_token(server)
    stream = watch(server, token, "prefix=/")
    assert server.proc is not None
    began = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    ended = False
    while not ended:
        try:
            stream.next(timeout=15)
        except EOFError:
            ended = True
    assert time.monotonic() - began < 15
    stream.close()
    assert server.proc.wait(20) == 0
    server.proc = None


def test_the_feed_works_without_auth(tmp_path: Path) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'open.db'}", env={"PATHKV_AUTH": "off"})
    server.start()
    try:
        stream = watch(server, "unused", "prefix=/")
        put(server, "unused", "/open", {"o": 1})
        assert stream.next().data["path"] == "/open"
        stream.close()
    finally:
        server.stop()

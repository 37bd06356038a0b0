"""Hypothesis drives the ASGI app with arbitrary requests: no input may cause a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathkv.config import Settings
from pathkv.web.app import App, create_app


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Any]]:
    loop = asyncio.new_event_loop()
    path = tmp_path_factory.mktemp("nse") / "n.db"
    app = create_app(
        Settings(store=f"sqlite:///{path}", log_level="ERROR", max_body_bytes=4096, body_timeout=1)
    )
    loop.run_until_complete(app.startup())
    yield app, loop
    loop.run_until_complete(app.shutdown())
    loop.close()


def call(
    app: App,
    loop: Any,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> int:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "raw_path": raw_path,
        "path": raw_path.decode("latin-1"),
        "query_string": query,
        "headers": headers,
    }
    loop.run_until_complete(app(scope, receive, send))
    return int(sent[0]["status"]) if sent else 499


header_names = st.sampled_from(
    [b"content-type", b"if-match", b"if-none-match", b"content-length", b"x-request-id", b"accept"]
)
header_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"application/json",
            b"application/x-www-form-urlencoded",
            b"*",
            b'"1-abc"',
            b'W/"2-x", "3-y"',
            b"\xff\xfe",
            b"9" * 30,
            b"-1",
        ]
    ),
)
paths = st.one_of(
    st.binary(max_size=60).map(lambda b: b"/" + b),
    st.lists(
        st.sampled_from(
            [b"a", b".", b"..", b"%2F", b"%ff", b"-", b"%00", b"\xc3\xa9", b"", b"x" * 10]
        ),
        max_size=8,
    ).map(lambda p: b"/" + b"/".join(p)),
)
queries = st.one_of(
    st.binary(max_size=40),
    st.lists(
        st.tuples(
            st.sampled_from([b"ttl", b"meta", b"limit", b"after", b"prefix"]),
            st.binary(max_size=12),
        ),
        max_size=4,
    ).map(lambda kv: b"&".join(k + b"=" + v for k, v in kv)),
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"{}",
            b'{"a":1}',
            b"[1]",
            b"a=1&b=2",
            b"%zz=1",
            b'{"a":' * 70 + b"1" + b"}" * 70,
            b'{"n":' + b"9" * 5000 + b"}",
        ]
    ),
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"]),
    raw_path=paths,
    query=queries,
    headers=st.lists(st.tuples(header_names, header_values), max_size=4),
    body=bodies,
)
def test_no_input_causes_a_server_error(
    running: tuple[App, Any],
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    app, loop = running
    status = call(app, loop, method, raw_path, query, headers, body)
    assert status < 500, (method, raw_path, query, headers, body[:80])

"""The HTTP contract, in-process over ASGI, on every store."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from pathkv.web.app import App

JSON_HEADERS = {"content-type": "application/json"}


async def put(
    client: httpx.AsyncClient, path: str, value: object, **kwargs: object
) -> httpx.Response:
    return await client.put(
        path,
        content=json.dumps(value),
        headers={**JSON_HEADERS, **kwargs.pop("headers", {})},
        **kwargs,
    )  # type: ignore[arg-type]


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith("urn:pathkv:problem:")
    return body


async def test_put_get_round_trip(client: httpx.AsyncClient) -> None:
    doc = {
        "temp": 21.5,
        "big": 123456789012345678901234567890,
        "nested": {"a": [1, None, True]},
        "text": "héllo 😀",
    }
    created = await put(client, "/sensors/kitchen", doc)
    assert created.status_code == 201
    assert created.headers["location"] == "/sensors/kitchen"
    meta = created.json()
    assert meta["path"] == "/sensors/kitchen" and meta["data"] == doc
    assert meta["version"] == 1 and meta["hits"] == 0
    assert 365 * 86400 - 5 <= meta["ttl"] <= 365 * 86400
    assert abs(meta["last_updated"] - time.time()) < 5
    got = await client.get("/sensors/kitchen")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.content) == doc
    assert b"123456789012345678901234567890" in got.content
    assert got.headers["etag"] == created.headers["etag"]
    assert got.headers["last-modified"].endswith("GMT")
    assert 0 < int(got.headers["x-ttl"]) <= 365 * 86400


async def test_replace_answers_200_and_changes_etag(client: httpx.AsyncClient) -> None:
    first = await put(client, "/doc", {"v": 1})
    second = await put(client, "/doc", {"v": 1})
    assert second.status_code == 200 and "location" not in second.headers
    assert second.json()["version"] == 2
    assert first.headers["etag"] != second.headers["etag"]


async def test_form_body(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/form", content="a=1&b=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 201
    assert (await client.get("/form")).json() == {"a": "1", "b": "x"}


async def test_meta_view_and_hits(client: httpx.AsyncClient) -> None:
    await put(client, "/counted", {"a": 1})
    for _ in range(3):
        assert (await client.get("/counted")).status_code == 200
    assert (await client.head("/counted")).status_code == 200
    meta = (await client.get("/counted", params={"meta": "1"})).json()
    assert set(meta) == {"path", "data", "last_updated", "ttl", "hits", "version", "etag"}
    assert meta["hits"] == 3 and meta["data"] == {"a": 1}
    assert (await client.get("/counted", params={"meta": "1"})).json()["hits"] == 3


async def test_head_has_get_headers_and_no_body(client: httpx.AsyncClient) -> None:
    await put(client, "/h", {"a": 1})
    get = await client.get("/h")
    head = await client.head("/h")
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]


async def test_query_string_is_not_part_of_the_key(client: httpx.AsyncClient) -> None:
    await put(client, "/q?ttl=60", {"a": 1})
    assert (await client.get("/q")).json() == {"a": 1}
    assert (await client.get("/q?meta=0")).json() == {"a": 1}


async def test_unknown_query_parameters_are_refused_by_name(client: httpx.AsyncClient) -> None:
    body = assert_problem(await put(client, "/typo?tll=60", {"a": 1}), 400)
    assert "'tll'" in str(body["detail"])
    assert (await client.get("/typo")).status_code == 404  # nothing was stored
    body = assert_problem(await client.get("/-/keys?prefx=/a"), 400)
    assert "'prefx'" in str(body["detail"])
    assert_problem(await client.get("/-/healthz?verbose=1"), 400)
    await put(client, "/flag", {"a": 1})
    assert (await client.get("/flag?meta")).json()["version"] == 1  # bare ?meta means ?meta=1


async def test_path_normalization_over_http(client: httpx.AsyncClient) -> None:
    await put(client, "/n/a", {"a": 1})
    for variant in ("/n/a/", "/n//a", "/n/./a", "/n/x/../a", "/n/%61"):
        assert (await client.get(variant)).status_code == 200, variant
    assert_problem(await client.get("/n/%zz"), 400)
    assert_problem(await client.get("/n/%ff"), 400)
    assert_problem(await client.get("/n/%00"), 400)
    assert_problem(await client.get("/" + "a" * 2000), 414)


async def test_delete(client: httpx.AsyncClient) -> None:
    await put(client, "/gone", {"a": 1})
    deleted = await client.delete("/gone")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(await client.get("/gone"), 404)
    assert_problem(await client.delete("/gone"), 404)


async def test_missing_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nope", headers={"x-request-id": "abc-1"}), 404)
    assert body["instance"] == "/nope" and body["request_id"] == "abc-1"


async def test_conditional_get(client: httpx.AsyncClient) -> None:
    etag = (await put(client, "/c", {"a": 1})).headers["etag"]
    not_modified = await client.get("/c", headers={"if-none-match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert (await client.head("/c", headers={"if-none-match": etag})).status_code == 304
    assert (await client.get("/c", headers={"if-none-match": '"9-x"'})).status_code == 200
    assert (await client.get("/c", headers={"if-none-match": "*"})).status_code == 304


async def test_if_match(client: httpx.AsyncClient) -> None:
    etag = (await put(client, "/m", {"v": 1})).headers["etag"]
    assert_problem(await put(client, "/m", {"v": 2}, headers={"if-match": '"1-other"'}), 412)
    assert (await client.get("/m")).json() == {"v": 1}
    assert_problem(await client.delete("/m", headers={"if-match": '"7-x"'}), 412)
    ok = await put(client, "/m", {"v": 3}, headers={"if-match": etag})
    assert ok.status_code == 200
    assert_problem(await put(client, "/m", {"v": 4}, headers={"if-match": etag}), 412)
    assert (await client.delete("/m", headers={"if-match": ok.headers["etag"]})).status_code == 204
    assert_problem(await put(client, "/new", {"v": 1}, headers={"if-match": "*"}), 412)
    assert_problem(await client.get("/new"), 404)


async def test_create_only(client: httpx.AsyncClient) -> None:
    assert (await put(client, "/once", {"v": 1}, headers={"if-none-match": "*"})).status_code == 201
    assert_problem(await put(client, "/once", {"v": 2}, headers={"if-none-match": "*"}), 412)
    assert (await client.get("/once")).json() == {"v": 1}


async def test_32_concurrent_if_match_puts_have_one_winner(client: httpx.AsyncClient) -> None:
    etag = (await put(client, "/race", {"v": 0})).headers["etag"]
    responses = await asyncio.gather(
        *(put(client, "/race", {"v": i}, headers={"if-match": etag}) for i in range(32))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 31


async def test_root_counter(client: httpx.AsyncClient) -> None:
    first = (await client.get("/")).json()["count"]
    values = [
        r.json()["count"] for r in await asyncio.gather(*(client.get("/") for _ in range(50)))
    ]
    assert sorted(values) == list(range(first + 1, first + 51))


async def test_ttl_parameter_and_expiry(client: httpx.AsyncClient) -> None:
    response = await put(client, "/short", {"a": 1}, params={"ttl": "1"})
    assert response.json()["ttl"] == 1
    assert int(response.headers["x-ttl"]) == 1
    await asyncio.sleep(1.1)
    assert_problem(await client.get("/short"), 404)
    keys = (await client.get("/-/keys", params={"prefix": "/short"})).json()
    assert keys["items"] == []
    for bad in ("0", "-1", "abc", "1.5", str(10**12)):
        assert_problem(await put(client, "/bad-ttl", {"a": 1}, params={"ttl": bad}), 400)
    assert_problem(await client.get("/bad-ttl"), 404)


async def test_listing_pages(client: httpx.AsyncClient) -> None:
    paths = [f"/list/{i:02d}" for i in range(7)]
    for path in reversed(paths):
        await put(client, path, {"p": path})
    await put(client, "/listx", {"a": 1})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"prefix": "/list/", "limit": "3", **({"after": cursor} if cursor else {})}
        page = (await client.get("/-/keys", params=params)).json()
        seen += [item["path"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == paths
    assert_problem(await client.get("/-/keys", params={"limit": "0"}), 400)
    assert_problem(await client.get("/-/keys", params={"after": "!!"}), 400)
    assert_problem(await client.get("/-/keys", params={"prefix": "nope"}), 400)


async def test_listing_one_level_with_a_delimiter(client: httpx.AsyncClient) -> None:
    paths = ["/tree/a", "/tree/b/1", "/tree/b/2", "/tree/b/deep/3", "/tree/c", "/tree/d/x"]
    paths += [f"/tree/e/{i}" for i in range(50)] + ["/tree/f", "/treetop/z"]
    for path in paths:
        await put(client, path, {"p": path})
    page = (await client.get("/-/keys", params={"prefix": "/tree/", "delimiter": "/"})).json()
    assert page == {
        "items": [{"path": "/tree/a"}, {"path": "/tree/c"}, {"path": "/tree/f"}],
        "prefixes": ["/tree/b/", "/tree/d/", "/tree/e/"],
        "next": None,
    }
    # One entry a page: folders and paths page in one order, a folder once.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"prefix": "/tree/", "delimiter": "/", "limit": "1"}
        page = (
            await client.get("/-/keys", params={**params, **({"after": cursor} if cursor else {})})
        ).json()
        assert len(page["items"]) + len(page["prefixes"]) == 1
        seen += [item["path"] for item in page["items"]] + page["prefixes"]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["/tree/a", "/tree/b/", "/tree/c", "/tree/d/", "/tree/e/", "/tree/f"]
    # The next level down, and a prefix that does not end with the delimiter.
    page = (await client.get("/-/keys", params={"prefix": "/tree/b/", "delimiter": "/"})).json()
    assert page["items"] == [{"path": "/tree/b/1"}, {"path": "/tree/b/2"}]
    assert page["prefixes"] == ["/tree/b/deep/"]
    page = (await client.get("/-/keys", params={"prefix": "/tree", "delimiter": "/"})).json()
    assert page == {"items": [], "prefixes": ["/tree/", "/treetop/"], "next": None}
    # The root, and any other delimiter.
    page = (await client.get("/-/keys", params={"delimiter": "/"})).json()
    assert "/tree/" in page["prefixes"] and "/treetop/" in page["prefixes"]
    page = (await client.get("/-/keys", params={"prefix": "/tree/", "delimiter": "e"})).json()
    assert "/tree/e" in page["prefixes"] and {"path": "/tree/a"} in page["items"]
    for bad in ("", "\x01", "x" * 17):
        assert_problem(await client.get("/-/keys", params={"delimiter": bad}), 400)


async def test_hits_ranking(client: httpx.AsyncClient) -> None:
    for path, count in (("/rank/a", 1), ("/rank/b", 4), ("/rank/c", 2)):
        await put(client, path, {"p": path})
        for _ in range(count):
            await client.get(path)
    for _ in range(20):
        items = (await client.get("/-/hits", params={"limit": "3"})).json()["items"]
        if items == [
            {"path": "/rank/b", "hits": 4},
            {"path": "/rank/c", "hits": 2},
            {"path": "/rank/a", "hits": 1},
        ]:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"hits not visible: {items}")


async def test_reserved_namespace(client: httpx.AsyncClient) -> None:
    assert (await client.get("/-/healthz")).json() == {"status": "ok"}
    assert (await client.get("/-/readyz")).json() == {
        "status": "ready",
        "writable": True,
        "reason": None,
    }
    response = assert_problem(await put(client, "/-/healthz", {"a": 1}), 405)
    assert response["status"] == 405
    assert_problem(await put(client, "/-/mine", {"a": 1}), 405)
    assert_problem(await client.delete("/-/keys"), 405)
    assert_problem(await client.get("/-/nothing"), 404)
    assert_problem(await put(client, "/", {"a": 1}), 405)


async def test_metrics(client: httpx.AsyncClient) -> None:
    await client.get("/missing")
    await client.get("/")
    text = (await client.get("/-/metrics")).text
    assert 'pathkv_requests_total{method="GET",route="/{path}",status="404"}' in text
    assert "pathkv_request_duration_seconds_bucket" in text
    assert 'pathkv_store_duration_seconds_count{operation="incr_root"} 1.0' in text
    # Every store call counts once, across scrapes: nothing lost, nothing counted twice.
    await client.get("/")
    await client.get("/")
    text = (await client.get("/-/metrics")).text
    assert 'pathkv_store_duration_seconds_count{operation="incr_root"} 3.0' in text


async def test_invented_methods_share_one_metrics_label(client: httpx.AsyncClient) -> None:
    for i in range(50):
        assert_problem(await client.request(f"BREW{i}", "/pot"), 405)
    assert_problem(await client.request("PATCH", "/pot"), 405)
    text = (await client.get("/-/metrics")).text
    assert 'pathkv_requests_total{method="OTHER",route="/{path}",status="405"} 50.0' in text
    assert 'method="PATCH"' in text
    assert "BREW" not in text
    assert_problem(await client.request("BREW", "/-/nope"), 405)
    text = (await client.get("/-/metrics")).text
    assert 'route="/-/nope"' not in text and 'route="/-/{unknown}"' in text


async def test_openapi_lists_every_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/-/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert {
        ("/", "get"),
        ("/{path}", "get"),
        ("/{path}", "head"),
        ("/{path}", "put"),
        ("/{path}", "delete"),
        ("/-/keys", "get"),
        ("/-/hits", "get"),
        ("/-/healthz", "get"),
        ("/-/readyz", "get"),
        ("/-/metrics", "get"),
        ("/-/openapi.json", "get"),
    } <= operations


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"[1,2]", "application/json", 400),
        (b'"s"', "application/json", 400),
        (b"{bad", "application/json", 400),
        (b'{"a":' * 70 + b"1" + b"}" * 70, "application/json", 400),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
    ],
)
async def test_refused_writes_store_nothing(
    client: httpx.AsyncClient, body: bytes, content_type: str, status: int
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert_problem(await client.put("/refused", content=body, headers=headers), status)
    assert_problem(await client.get("/refused"), 404)


async def test_body_over_limit_is_413(client: httpx.AsyncClient, app: App) -> None:
    limit = app.settings.max_body_bytes
    big = b'{"a":"' + b"x" * limit + b'"}'
    assert_problem(await client.put("/big", content=big, headers=JSON_HEADERS), 413)

    async def stream() -> object:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await client.put("/big", content=stream(), headers=JSON_HEADERS)
    assert_problem(response, 413)
    assert_problem(await client.get("/big"), 404)


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/-/healthz", headers={"x-request-id": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    generated = await client.get("/-/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unsupported_method(client: httpx.AsyncClient) -> None:
    response = assert_problem(await client.post("/doc", content=b"{}"), 405)
    assert response["status"] == 405

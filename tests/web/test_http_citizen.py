"""HTTP semantics a cache, a browser or a careful client relies on (RFC 9110, 9111), and the
input users get wrong: in-process over ASGI, on every store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from pathkv.config import Settings
from pathkv.web.app import create_app
from tests.web.test_http_api import JSON_HEADERS, assert_problem, put


async def test_documents_revalidate_and_everything_else_is_not_stored(
    client: httpx.AsyncClient,
) -> None:
    created = await put(client, "/c/doc", {"v": 1})
    assert created.headers["cache-control"] == "no-store"
    got = await client.get("/c/doc")
    assert got.headers["cache-control"] == "no-cache"
    assert "expires" not in got.headers and int(got.headers["x-ttl"]) > 0
    head = await client.head("/c/doc")
    assert head.headers["cache-control"] == "no-cache"
    for path in ("/", "/-/keys", "/-/hits", "/-/metrics", "/-/healthz", "/c/missing"):
        assert (await client.get(path)).headers["cache-control"] == "no-store", path
    assert (await client.delete("/c/doc")).headers["cache-control"] == "no-store"


async def test_if_modified_since(client: httpx.AsyncClient) -> None:
    created = await put(client, "/ims", {"v": 1})
    modified = created.headers["last-modified"]
    assert (await client.get("/ims", headers={"if-modified-since": modified})).status_code == 304
    earlier = formatdate(created.json()["last_updated"] - 10, usegmt=True)
    assert (await client.get("/ims", headers={"if-modified-since": earlier})).status_code == 200
    assert (
        await client.get("/ims", headers={"if-modified-since": "yesterday"})
    ).status_code == 200  # not a date: ignored
    # If-None-Match wins: a tag that does not match means 200 whatever the date says
    both = {"if-none-match": '"9-nope"', "if-modified-since": modified}
    assert (await client.get("/ims", headers=both)).status_code == 200


async def test_if_unmodified_since(client: httpx.AsyncClient) -> None:
    created = await put(client, "/ius", {"v": 1})
    modified = created.headers["last-modified"]
    stale = formatdate(created.json()["last_updated"] - 10, usegmt=True)
    refused = await put(client, "/ius", {"v": 2}, headers={"if-unmodified-since": stale})
    assert_problem(refused, 412)
    assert refused.headers["etag"] == created.headers["etag"]
    assert (await client.get("/ius")).json() == {"v": 1}
    assert_problem(await client.delete("/ius", headers={"if-unmodified-since": stale}), 412)
    ok = await put(client, "/ius", {"v": 3}, headers={"if-unmodified-since": modified})
    assert ok.status_code == 200
    # If-Match wins over If-Unmodified-Since
    forced = await put(
        client,
        "/ius",
        {"v": 4},
        headers={"if-match": ok.headers["etag"], "if-unmodified-since": stale},
    )
    assert forced.status_code == 200
    assert_problem(
        await put(client, "/ius-missing", {"v": 1}, headers={"if-unmodified-since": modified}), 412
    )
    assert (await client.get("/ius-missing")).status_code == 404
    assert (
        await client.delete("/ius", headers={"if-unmodified-since": "garbage"})
    ).status_code == 204


async def test_weak_tags_never_match_if_match_but_match_if_none_match(
    client: httpx.AsyncClient,
) -> None:
    created = await put(client, "/weak", {"v": 1})
    tag = created.headers["etag"]
    assert_problem(await put(client, "/weak", {"v": 2}, headers={"if-match": "W/" + tag}), 412)
    assert (await client.get("/weak", headers={"if-none-match": "W/" + tag})).status_code == 304


async def test_several_header_lines_are_one_list(client: httpx.AsyncClient) -> None:
    created = await put(client, "/lines", {"v": 1})
    headers = [
        ("content-type", "application/json"),
        ("if-match", '"1-other"'),
        ("if-match", created.headers["etag"]),
    ]
    replaced = await client.put("/lines", content=b'{"v":2}', headers=headers)
    assert replaced.status_code == 200, replaced.text
    current = replaced.headers["etag"]
    reads = [("if-none-match", '"1-other"'), ("if-none-match", current)]
    assert (await client.get("/lines", headers=reads)).status_code == 304


async def test_conditions_that_cannot_be_parsed_are_400(client: httpx.AsyncClient) -> None:
    await put(client, "/cond", {"v": 1})
    assert_problem(
        await put(client, "/cond", {"v": 2}, headers={"if-match": "*", "if-none-match": ""}), 400
    )
    many = ", ".join(f'"{i}-abc"' for i in range(4000))
    assert_problem(await client.delete("/cond", headers={"if-match": many}), 400)
    assert (await client.get("/cond")).json() == {"v": 1}


async def test_a_412_carries_the_current_etag_and_meta_has_it(client: httpx.AsyncClient) -> None:
    created = await put(client, "/tagged", {"v": 1})
    assert created.json()["etag"] == created.headers["etag"]
    refused = await put(client, "/tagged", {"v": 2}, headers={"if-none-match": "*"})
    assert_problem(refused, 412)
    assert refused.headers["etag"] == created.headers["etag"]
    meta = (await client.get("/tagged?meta=1")).json()
    assert meta["etag"] == created.headers["etag"]
    missing = await put(client, "/untagged", {"v": 1}, headers={"if-match": '"1-abc"'})
    assert_problem(missing, 412)
    assert "etag" not in missing.headers


async def test_head_of_the_counter_has_gets_headers_and_counts_nothing(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/")
    head = await client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == first.headers["content-type"]
    second = await client.get("/")
    assert second.json()["count"] == first.json()["count"] + 1
    assert int(head.headers["content-length"]) == len(first.content)


async def test_json_answers_end_with_a_newline(client: httpx.AsyncClient) -> None:
    await put(client, "/nl", {"v": 1})
    for path in ("/", "/nl?meta=1", "/-/keys", "/-/hits", "/missing"):
        assert (await client.get(path)).content.endswith(b"}\n"), path
    assert (await client.get("/nl")).content == b'{"v":1}'  # a document: exactly as stored


@pytest.mark.parametrize(
    "body", [b'{"url":"http://x?a=b"}', b'{"a":1}', b'  {"a": [1, 2]}  ', b'{"broken":']
)
async def test_a_json_object_sent_as_a_form_is_refused_with_a_hint(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.put(
        "/form", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    problem = assert_problem(answer, 415)
    assert "content-type: application/json" in str(problem["detail"])
    assert (await client.get("/form")).status_code == 404


async def test_real_forms_still_work(client: httpx.AsyncClient) -> None:
    answer = await client.put(
        "/real-form",
        content=b"a=1&b=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 201
    assert (await client.get("/real-form")).json() == {"a": "1", "b": "x"}


@pytest.fixture
async def cors_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'cors.db'}",
        log_level="WARNING",
        cors_origins="https://app.example, http://localhost:3000",
    )
    app = create_app(settings)
    await app.startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pathkv.test") as c:
        yield c
    await app.shutdown()


async def test_cors_for_allowed_origins_only(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options(
        "/doc",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "PUT",
            "access-control-request-headers": "Content-Type, If-Match, X-Evil",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type, if-match"
    written = await cors_client.put(
        "/doc", content=b'{"a":1}', headers={**JSON_HEADERS, "origin": "https://app.example"}
    )
    assert written.headers["access-control-allow-origin"] == "https://app.example"
    assert "etag" in written.headers["access-control-expose-headers"]
    other = await cors_client.get("/doc", headers={"origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    refused = await cors_client.options(
        "/doc", headers={"origin": "https://evil.example", "access-control-request-method": "PUT"}
    )
    assert refused.status_code == 405 and "access-control-allow-origin" not in refused.headers
    problem = await cors_client.get("/missing", headers={"origin": "http://localhost:3000"})
    assert problem.status_code == 404
    assert problem.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_pages_of_other_sites_cannot_count_hits(cors_client: httpx.AsyncClient) -> None:
    await cors_client.put("/img", content=b'{"a":1}', headers=JSON_HEADERS)
    start = (await cors_client.get("/")).json()["count"]
    sneaky = {"sec-fetch-mode": "no-cors", "sec-fetch-site": "cross-site"}
    assert_problem(await cors_client.get("/", headers=sneaky), 403)
    assert_problem(await cors_client.get("/img", headers=sneaky), 403)
    assert (await cors_client.get("/img?meta=1")).json()["hits"] == 0
    assert (await cors_client.get("/")).json()["count"] == start + 1
    # the same request from the service's own origin, or without the browser's marks, is fine
    same = {"sec-fetch-mode": "no-cors", "sec-fetch-site": "same-origin"}
    assert (await cors_client.get("/img", headers=same)).status_code == 200


def test_bad_cors_origins_are_refused_at_start() -> None:
    from pathkv.config import ConfigError

    for bad in ("app.example", "https://app.example/", "https://app.example/path", "ftp://x"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            Settings.from_env({"PATHKV_CORS_ORIGINS": bad})

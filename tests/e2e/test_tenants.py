"""Tenants, tokens, scopes, quotas and rate limits, over real sockets, against `pathkv serve`
with two workers on each store."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import store_kinds
from tests.servers import PathkvServer, RedisServer, free_port

ADMIN = "admin-" + uuid.uuid4().hex
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module", params=store_kinds()[:2])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_servers: dict[str, RedisServer],
) -> Iterator[PathkvServer]:
    tmp = tmp_path_factory.mktemp("tenants")
    env = {"PATHKV_AUTH": "on", "PATHKV_ADMIN_TOKEN": ADMIN, "PATHKV_LOG_LEVEL": "INFO"}
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'tenants.db'}"
    else:
        url = redis_servers[request.param.split(":", 1)[1]].url
        env["PATHKV_REDIS_PREFIX"] = f"e{uuid.uuid4().hex[:8]}:"
    running = PathkvServer(url, env=env, workers=2, log=tmp / "server.log")
    running.start()
    running.wait_ready()
    yield running
    running.stop()


def call(server: PathkvServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own, so that both workers answer some."""
    with httpx.Client(base_url=server.base, timeout=10) as client:
        return client.request(method, path, **kwargs)


def raw_get(server: PathkvServer, target: str, token: str) -> int:
    """The status of a GET of target exactly as written (HTTP clients normalize paths)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = conn.recv(65536)
    return int(head.split(b" ", 2)[1])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def make_tenant(server: PathkvServer, body: dict[str, Any] | None = None) -> str:
    name = "t-" + uuid.uuid4().hex[:10]
    answer = call(server, "PUT", f"/-/tenants/{name}", json=body or {}, headers=ADMIN_HEADERS)
    assert answer.status_code == 201, answer.text
    return name


def make_token(server: PathkvServer, tenant: str, scopes: Any = None, **extra: Any) -> str:
    body = {"tenant": tenant, "scopes": scopes or [{"prefix": "/", "allow": ["read", "write"]}]}
    answer = call(server, "POST", "/-/tokens", json={**body, **extra}, headers=ADMIN_HEADERS)
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def test_requests_without_a_valid_token_get_401(server: PathkvServer) -> None:
    missing = call(server, "GET", "/anything")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="pathkv"'
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "urn:pathkv:problem:unauthorized"
    for header in ("Bearer pkv_0123456789abcdef_" + "x" * 43, "Bearer nonsense", "Basic abc"):
        wrong = call(server, "GET", "/anything", headers={"authorization": header})
        assert wrong.status_code == 401, header
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    for path in ("/", "/-/keys", "/-/hits", "/-/tenants", "/-/tokens"):
        assert call(server, "GET", path).status_code == 401, path
    assert call(server, "PUT", "/x", json={"a": 1}).status_code == 401
    for path in ("/-/healthz", "/-/readyz", "/-/openapi.json", "/-/metrics"):
        assert call(server, "GET", path).status_code == 200, path


def test_tenants_are_managed_by_admin_tokens(server: PathkvServer) -> None:
    name = "t-" + uuid.uuid4().hex[:10]
    body = {"quota": {"documents": 5, "bytes": None, "document_bytes": 100}, "rate": None}
    created = call(server, "PUT", f"/-/tenants/{name}", json=body, headers=ADMIN_HEADERS)
    assert created.status_code == 201
    assert created.json() == {
        "name": name,
        "quota": {"documents": 5, "bytes": None, "document_bytes": 100},
        "rate": None,
        "usage": {"documents": 0, "bytes": 0},
    }
    again = call(
        server,
        "PUT",
        f"/-/tenants/{name}",
        json={"rate": {"requests": 10, "window": 60}},
        headers=ADMIN_HEADERS,
    )
    assert again.status_code == 200 and again.json()["rate"] == {"requests": 10, "window": 60}
    assert call(server, "GET", f"/-/tenants/{name}", headers=ADMIN_HEADERS).json()["name"] == name
    listed = call(server, "GET", "/-/tenants", headers=ADMIN_HEADERS).json()["items"]
    assert name in [t["name"] for t in listed] and "default" in [t["name"] for t in listed]
    for bad in ("Upper", "-x", "a" * 64, "a_b", "a.b"):
        answer = call(server, "PUT", f"/-/tenants/{bad}", json={}, headers=ADMIN_HEADERS)
        assert answer.status_code == 400, bad
    for bad_body in (
        {"quota": {"documents": -1}},
        {"rate": {"requests": 0, "window": 1}},
        {"quota": {"files": 3}},
        [1, 2],
    ):
        answer = call(server, "PUT", f"/-/tenants/{name}", json=bad_body, headers=ADMIN_HEADERS)
        assert answer.status_code == 400, bad_body
    assert call(server, "GET", "/-/tenants/t-nope", headers=ADMIN_HEADERS).status_code == 404
    token = make_token(server, name)
    assert call(server, "GET", "/-/tenants", headers=bearer(token)).status_code == 403
    assert call(server, "GET", "/-/tokens", headers=bearer(token)).status_code == 403
    assert call(server, "PUT", "/doc", json={"a": 1}, headers=bearer(token)).status_code == 201
    assert call(server, "DELETE", f"/-/tenants/{name}", headers=ADMIN_HEADERS).status_code == 204
    assert call(server, "GET", f"/-/tenants/{name}", headers=ADMIN_HEADERS).status_code == 404
    time.sleep(1.0)
    for _ in range(6):
        assert call(server, "GET", "/doc", headers=bearer(token)).status_code == 401
    # the tenant's documents went with it: a new tenant of the same name starts empty
    call(server, "PUT", f"/-/tenants/{name}", json={}, headers=ADMIN_HEADERS)
    fresh = make_token(server, name)
    assert call(server, "GET", "/doc", headers=bearer(fresh)).status_code == 404
    assert call(server, "DELETE", "/-/tenants/default", headers=ADMIN_HEADERS).status_code == 409


def test_tokens_are_shown_once_and_revoked_everywhere_within_a_second(
    server: PathkvServer,
) -> None:
    tenant = make_tenant(server)
    answer = call(
        server,
        "POST",
        "/-/tokens",
        json={
            "tenant": tenant,
            "scopes": [{"prefix": "/app", "allow": ["read"]}],
            "expires_in": 3600,
            "name": "ci",
        },
        headers=ADMIN_HEADERS,
    )
    assert answer.status_code == 201
    made = answer.json()
    assert {"id", "token", "tenant", "scopes", "expires_at", "name"} <= made.keys()
    assert made["tenant"] == tenant and made["name"] == "ci"
    assert made["scopes"] == [{"prefix": "/app", "allow": ["read"]}]
    assert abs(made["expires_at"] - (time.time() + 3600)) < 60
    secret = made["token"]
    listed = call(server, "GET", f"/-/tokens?tenant={tenant}", headers=ADMIN_HEADERS)
    assert [t["id"] for t in listed.json()["items"]] == [made["id"]]
    assert secret not in listed.text and "token" not in listed.json()["items"][0]
    for _ in range(4):
        assert call(server, "GET", "/app/x", headers=bearer(secret)).status_code == 404
    revoked = call(server, "DELETE", f"/-/tokens/{made['id']}", headers=ADMIN_HEADERS)
    assert revoked.status_code == 204
    time.sleep(1.0)
    for _ in range(10):
        assert call(server, "GET", "/app/x", headers=bearer(secret)).status_code == 401
    assert (
        call(server, "DELETE", f"/-/tokens/{made['id']}", headers=ADMIN_HEADERS).status_code == 404
    )
    unknown = call(server, "POST", "/-/tokens", json={"tenant": "t-missing"}, headers=ADMIN_HEADERS)
    assert unknown.status_code == 404
    for bad in (
        {"scopes": []},
        {"tenant": tenant, "scopes": [{"prefix": "/a", "allow": ["all"]}]},
        {"tenant": tenant, "admin": True},
        {"tenant": tenant, "expires_in": 0},
    ):
        assert call(server, "POST", "/-/tokens", json=bad, headers=ADMIN_HEADERS).status_code == 400


def test_expired_tokens_are_refused(server: PathkvServer) -> None:
    tenant = make_tenant(server)
    token = make_token(server, tenant, expires_in=1)
    assert call(server, "GET", "/x", headers=bearer(token)).status_code == 404
    time.sleep(1.3)
    for _ in range(4):
        answer = call(server, "GET", "/x", headers=bearer(token))
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_tenants_never_see_each_others_data(server: PathkvServer) -> None:
    a, b = make_tenant(server), make_tenant(server)
    token_a, token_b = make_token(server, a), make_token(server, b)
    assert (
        call(server, "PUT", "/x", json={"owner": "a"}, headers=bearer(token_a)).status_code == 201
    )
    assert (
        call(server, "PUT", "/x", json={"owner": "b"}, headers=bearer(token_b)).status_code == 201
    )
    assert call(server, "GET", "/x", headers=bearer(token_a)).json() == {"owner": "a"}
    assert call(server, "GET", "/x", headers=bearer(token_b)).json() == {"owner": "b"}
    call(server, "PUT", "/only-a/doc", json={"v": 1}, headers=bearer(token_a))
    for hostile in (
        "/only-a/doc",
        "/only-a/./doc",
        "/y/../only-a/doc",
        "/only-a%2Fdoc",
        "//only-a//doc/",
        "/only-a/%2e/doc",
    ):
        assert raw_get(server, hostile, token_b) == 404, hostile
        assert raw_get(server, hostile, token_a) == 200, hostile
    keys_b = call(server, "GET", "/-/keys", headers=bearer(token_b)).json()["items"]
    assert [k["path"] for k in keys_b] == ["/x"]
    # hits reach every worker within a second (SQLite buffers them per worker)
    deadline = time.monotonic() + 3
    while True:
        hits_b = call(server, "GET", "/-/hits", headers=bearer(token_b)).json()["items"]
        if hits_b or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [h["path"] for h in hits_b] == ["/x"]
    counts = [call(server, "GET", "/", headers=bearer(token_a)).json()["count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert call(server, "GET", "/", headers=bearer(token_b)).json()["count"] == 1
    # a tenant token may not borrow another tenant with the admin's header
    borrowed = call(server, "GET", "/x", headers={**bearer(token_b), "pathkv-tenant": a})
    assert borrowed.status_code == 403
    # the admin acts in the tenant it names
    as_admin = call(server, "GET", "/x", headers={**ADMIN_HEADERS, "pathkv-tenant": a})
    assert as_admin.json() == {"owner": "a"}
    assert call(server, "GET", "/x", headers=ADMIN_HEADERS).status_code == 404  # default
    for hostile, status in (
        ("/%ff", 400),
        ("/a/../../x", 400),
        ("/" + "a" * 5000, 414),
        ("/-/tenants/../../../x", 400),
        ("/-/tenants/../../x", 200),  # that is /x, the tenant's own
        ("/-/x", 404),
        ("/-/tenants", 403),
        ("/-/tenants/" + a, 403),
        ("/x/../-/tenants", 403),
        ("/-/tokens", 403),
    ):
        assert raw_get(server, hostile, token_a) == status, hostile


def test_scopes_bound_paths_on_segment_boundaries(server: PathkvServer) -> None:
    tenant = make_tenant(server)
    writer = make_token(server, tenant, [{"prefix": "/app", "allow": ["read", "write"]}])
    reader = make_token(server, tenant, [{"prefix": "/app/public", "allow": ["read"]}])
    for path in ("/app", "/app/x", "/app/public/y"):
        assert (
            call(server, "PUT", path, json={"p": path}, headers=bearer(writer)).status_code == 201
        )
    for path in ("/apple", "/secret", "/app/../secret", "/ap"):
        assert call(server, "PUT", path, json={}, headers=bearer(writer)).status_code == 403, path
        assert call(server, "GET", path, headers=bearer(writer)).status_code == 403, path
    assert call(server, "GET", "/app/public/y", headers=bearer(reader)).status_code == 200
    assert call(server, "GET", "/app/public/y?meta=1", headers=bearer(reader)).status_code == 200
    assert call(server, "HEAD", "/app/public/y", headers=bearer(reader)).status_code == 200
    assert call(server, "GET", "/app/x", headers=bearer(reader)).status_code == 403
    for method in ("PUT", "DELETE"):
        answer = call(server, method, "/app/public/y", json={}, headers=bearer(reader))
        assert answer.status_code == 403 and answer.json()["type"] == "urn:pathkv:problem:forbidden"
    listed = call(server, "GET", "/-/keys", headers=bearer(reader)).json()["items"]
    assert [k["path"] for k in listed] == ["/app/public/y"]
    everything = call(server, "GET", "/-/keys", headers=bearer(writer)).json()["items"]
    assert [k["path"] for k in everything] == ["/app", "/app/public/y", "/app/x"]
    # One level at a time: a folder is shown when the token may read something in it.
    level = {"prefix": "/", "delimiter": "/"}
    page = call(server, "GET", "/-/keys", params=level, headers=bearer(reader)).json()
    assert page["items"] == [] and page["prefixes"] == ["/app/"]
    level["prefix"] = "/app/"
    page = call(server, "GET", "/-/keys", params=level, headers=bearer(reader)).json()
    assert page["items"] == [] and page["prefixes"] == ["/app/public/"]
    page = call(server, "GET", "/-/keys", params=level, headers=bearer(writer)).json()
    assert page["items"] == [{"path": "/app/x"}] and page["prefixes"] == ["/app/public/"]
    call(server, "GET", "/app/x", headers=bearer(writer))
    ranked = call(server, "GET", "/-/hits", headers=bearer(reader)).json()["items"]
    assert all(item["path"].startswith("/app/public") for item in ranked)


def test_quotas_are_exact_under_concurrency(server: PathkvServer) -> None:
    tenant = make_tenant(server, {"quota": {"documents": 10, "bytes": None, "document_bytes": 64}})
    token = make_token(server, tenant)

    def create(i: int) -> httpx.Response:
        return call(server, "PUT", f"/race/{i}", json={"i": i}, headers=bearer(token))

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(create, range(32)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 10 and statuses.count(507) == 22, statuses
    refused = next(a for a in answers if a.status_code == 507)
    assert refused.json()["type"] == "urn:pathkv:problem:quota-exceeded"
    assert refused.json()["quota"] == "documents"
    view = call(server, "GET", f"/-/tenants/{tenant}", headers=ADMIN_HEADERS).json()
    assert view["usage"]["documents"] == 10
    stored = [a for a in answers if a.status_code == 201]
    path = stored[0].headers["location"]
    # replacing is not a new document; too large a document is 413; deleting frees
    assert call(server, "PUT", path, json={"i": "again"}, headers=bearer(token)).status_code == 200
    big = call(server, "PUT", path, json={"x": "y" * 100}, headers=bearer(token))
    assert big.status_code == 413
    assert call(server, "DELETE", path, headers=bearer(token)).status_code == 204
    assert call(server, "PUT", "/new", json={}, headers=bearer(token)).status_code == 201


def test_the_byte_quota_counts_compact_json(server: PathkvServer) -> None:
    tenant = make_tenant(server, {"quota": {"bytes": 30}})
    token = make_token(server, tenant)
    spaced = b'{ "a" :   "0123456789" }'  # compact: {"a":"0123456789"}, 18 bytes
    headers = {**bearer(token), "content-type": "application/json"}
    assert call(server, "PUT", "/one", content=spaced, headers=headers).status_code == 201
    view = call(server, "GET", f"/-/tenants/{tenant}", headers=ADMIN_HEADERS).json()
    assert view["usage"] == {"documents": 1, "bytes": 18}
    over = call(server, "PUT", "/two", content=spaced, headers=headers)
    assert over.status_code == 507 and over.json()["quota"] == "bytes"
    assert call(server, "GET", "/two", headers=bearer(token)).status_code == 404
    assert call(server, "PUT", "/two", json={"b": 1}, headers=bearer(token)).status_code == 201


def test_rate_limits_are_counted_across_workers(server: PathkvServer) -> None:
    tenant = make_tenant(server, {"rate": {"requests": 200, "window": 10}})
    token = make_token(server, tenant)
    accepted = limited = 0
    deadline = time.monotonic() + 10

    def hammer() -> tuple[int, int]:
        ok = refused = 0
        with httpx.Client(base_url=server.base, timeout=10) as client:
            while time.monotonic() < deadline:
                answer = client.get("/r", headers=bearer(token))
                if answer.status_code == 429:
                    refused += 1
                    assert int(answer.headers["retry-after"]) >= 1
                    assert answer.json()["type"] == "urn:pathkv:problem:rate-limited"
                else:
                    ok += 1
                    assert answer.status_code == 404
                assert answer.headers["ratelimit-policy"] == '"tenant";q=200;w=10'
                assert answer.headers["ratelimit"].startswith('"tenant";r=')
                time.sleep(0.002)
        return ok, refused

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for ok, refused in pool.map(lambda _: hammer(), range(4)):
            accepted += ok
            limited += refused
    assert limited > 0
    assert 180 <= accepted <= 220, accepted


def test_the_stricter_of_tenant_and_token_rates_applies(server: PathkvServer) -> None:
    tenant = make_tenant(server, {"rate": {"requests": 100, "window": 60}})
    token = make_token(server, tenant, rate={"requests": 3, "window": 60})
    statuses = [call(server, "GET", "/z", headers=bearer(token)).status_code for _ in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    answer = call(server, "GET", "/z", headers=bearer(token))
    assert '"token";q=3;w=60' in answer.headers["ratelimit-policy"]
    other = make_token(server, tenant)
    assert call(server, "GET", "/z", headers=bearer(other)).status_code == 404


def test_no_secret_is_ever_shown_again(server: PathkvServer, tmp_path: Path) -> None:
    tenant = make_tenant(server)
    made = call(server, "POST", "/-/tokens", json={"tenant": tenant}, headers=ADMIN_HEADERS)
    secret = made.json()["token"]
    call(server, "PUT", "/s", json={"a": 1}, headers=bearer(secret))
    call(server, "GET", "/s", headers=bearer(secret))
    call(server, "GET", "/s", headers={"authorization": f"Bearer {secret}x"})
    seen = [
        call(server, "GET", "/-/tokens", headers=ADMIN_HEADERS).text,
        call(server, "GET", f"/-/tokens/{made.json()['id']}", headers=ADMIN_HEADERS).text,
        call(server, "GET", "/-/metrics").text,
        call(server, "GET", "/-/tenants", headers=ADMIN_HEADERS).text,
    ]
    assert server.log is not None
    seen.append(server.log.read_text())
    exported = subprocess.run(
        [sys.executable, "-m", "pathkv", "export", "--store", server.store],
        capture_output=True,
        env={**os.environ, **server.env},
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    seen.append(exported.stdout.decode())
    assert made.json()["id"] in seen[-1]  # the token's record is exported, as a digest
    for text in seen:
        assert secret not in text and ADMIN not in text


def test_a_tenant_and_its_tokens_are_exported_and_restored(
    server: PathkvServer, tmp_path: Path
) -> None:
    tenant = make_tenant(server, {"quota": {"documents": 7}})
    token = make_token(server, tenant)
    call(server, "PUT", "/kept", json={"k": 1}, headers=bearer(token))
    env = {**os.environ, **server.env}
    dump = tmp_path / "dump.jsonl"
    subprocess.run(
        [sys.executable, "-m", "pathkv", "export", "--store", server.store, "-o", str(dump)],
        check=True,
        env=env,
        timeout=60,
    )
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    subprocess.run(
        [sys.executable, "-m", "pathkv", "import", "--store", target, "-i", str(dump)],
        check=True,
        env=env,
        timeout=60,
        capture_output=True,
    )
    restored = PathkvServer(target, env={"PATHKV_AUTH": "on"}, port=free_port())
    restored.start()
    try:
        assert call(restored, "GET", "/kept", headers=bearer(token)).json() == {"k": 1}
    finally:
        restored.stop()


def test_admin_commands_work_on_the_store(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'cli.db'}"

    def pathkv(*args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "pathkv", *args, "--store", store],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        import json

        return json.loads(result.stdout)

    view = pathkv(
        "tenant", "put", "acme", "--documents", "3", "--rate-requests", "5", "--rate-window", "1"
    )
    assert view["quota"]["documents"] == 3 and view["rate"] == {"requests": 5, "window": 1}
    made = pathkv("token", "create", "--tenant", "acme", "--scope", "/app=read,write")
    assert made["token"].startswith("pkv_") and made["scopes"][0]["prefix"] == "/app"
    admin = pathkv("token", "create", "--admin", "--name", "ops")
    assert admin["admin"] is True
    assert [t["id"] for t in pathkv("token", "list", "--tenant", "acme")["items"]] == [made["id"]]
    served = PathkvServer(store, env={"PATHKV_AUTH": "on"})
    served.start()
    try:
        headers = bearer(made["token"])
        assert call(served, "PUT", "/app/a", json={}, headers=headers).status_code == 201
        assert call(served, "GET", "/-/tenants/acme", headers=bearer(admin["token"])).json()[
            "usage"
        ] == {"documents": 1, "bytes": 2}
    finally:
        served.stop()
    assert pathkv("token", "revoke", made["id"]) == {"revoked": made["id"]}
    assert pathkv("tenant", "delete", "acme") == {"deleted": "acme"}
    assert [t["name"] for t in pathkv("tenant", "list")["items"]] == ["default"]


def test_protected_mode_refuses_to_serve_beyond_loopback_without_a_choice(
    tmp_path: Path,
) -> None:
    base = [sys.executable, "-m", "pathkv", "serve", "--host", "0.0.0.0", "--port"]
    env = {k: v for k, v in os.environ.items() if k != "PATHKV_AUTH"}
    refused = subprocess.run(
        [*base, str(free_port()), "--store", f"sqlite:///{tmp_path / 'p.db'}"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "PATHKV_AUTH" in refused.stderr.strip().splitlines()[-1]
    explicit = PathkvServer(f"sqlite:///{tmp_path / 'q.db'}", env={"PATHKV_AUTH": "off"})
    explicit.start()
    try:
        assert call(explicit, "PUT", "/open", json={"a": 1}).status_code == 201
        assert call(explicit, "GET", "/-/tenants").status_code == 403
    finally:
        explicit.stop()


def test_admin_tokens_made_over_http_manage_and_act_in_any_tenant(server: PathkvServer) -> None:
    made = call(
        server, "POST", "/-/tokens", json={"admin": True, "name": "ops"}, headers=ADMIN_HEADERS
    )
    assert made.status_code == 201 and made.json()["admin"] is True
    ops = bearer(made.json()["token"])
    tenant = make_tenant(server)
    assert call(server, "GET", f"/-/tenants/{tenant}", headers=ops).status_code == 200
    answer = call(server, "PUT", "/by-ops", json={"a": 1}, headers={**ops, "pathkv-tenant": tenant})
    assert answer.status_code == 201
    token = make_token(server, tenant)
    assert call(server, "GET", "/by-ops", headers=bearer(token)).json() == {"a": 1}
    bad = call(server, "GET", "/x", headers={**ops, "pathkv-tenant": "Not_A_Name"})
    assert bad.status_code == 400
    listed = call(server, "GET", "/-/tokens", headers=ops).json()["items"]
    assert any(t["id"] == made.json()["id"] and t["admin"] for t in listed)

"""The auth stage in process (one worker, SQLite): metrics behind the admin token, auth off
unchanged, the protected-mode rule, and answers without rate limits carrying no headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pathkv.config import ConfigError, Settings
from pathkv.web.app import create_app

ADMIN = "in-process-admin-token-0123456789"


@pytest.fixture
async def authed(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'auth.db'}",
        auth="on",
        admin_token=ADMIN,
        metrics_auth=True,
        log_level="WARNING",
    )
    app = create_app(settings)
    await app.startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pathkv.test") as client:
        yield client
    await app.shutdown()


async def test_metrics_need_an_admin_token_when_asked(authed: httpx.AsyncClient) -> None:
    assert (await authed.get("/-/metrics")).status_code == 401
    admin = {"authorization": f"Bearer {ADMIN}"}
    assert (await authed.get("/-/metrics", headers=admin)).status_code == 200
    await authed.put("/-/tenants/acme", json={}, headers=admin)
    made = await authed.post("/-/tokens", json={"tenant": "acme"}, headers=admin)
    tenant = {"authorization": f"Bearer {made.json()['token']}"}
    assert (await authed.get("/-/metrics", headers=tenant)).status_code == 403
    assert (await authed.get("/-/healthz")).status_code == 200


async def test_answers_without_a_rate_limit_carry_no_rate_headers(
    authed: httpx.AsyncClient,
) -> None:
    admin = {"authorization": f"Bearer {ADMIN}"}
    await authed.put("/-/tenants/free", json={}, headers=admin)
    made = await authed.post("/-/tokens", json={"tenant": "free"}, headers=admin)
    answer = await authed.get("/x", headers={"authorization": f"Bearer {made.json()['token']}"})
    assert answer.status_code == 404
    assert "ratelimit" not in answer.headers and "ratelimit-policy" not in answer.headers


async def test_bodies_of_account_requests_are_checked(authed: httpx.AsyncClient) -> None:
    admin = {"authorization": f"Bearer {ADMIN}"}
    bad_json = await authed.put(
        "/-/tenants/x", content=b"{nope", headers={**admin, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    form = await authed.put(
        "/-/tenants/x", content=b"a=1", headers={**admin, "content-type": "text/plain"}
    )
    assert form.status_code == 415
    empty = await authed.put("/-/tenants/x", headers=admin)
    assert empty.status_code == 201 and empty.json()["quota"]["documents"] is None
    assert (await authed.post("/-/tenants/x", headers=admin)).status_code == 405
    assert (await authed.put("/-/tokens", json={}, headers=admin)).status_code == 405


async def test_with_auth_off_every_request_is_anonymous(client: httpx.AsyncClient) -> None:
    assert (await client.put("/a", json={"v": 1})).status_code == 201
    sent = await client.get("/a", headers={"authorization": "Bearer whatever"})
    assert sent.status_code == 200 and sent.json() == {"v": 1}
    refused = await client.get("/-/tenants")
    assert refused.status_code == 403 and "PATHKV_AUTH" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("host", "auth", "expected"),
    [
        ("127.0.0.1", "", False),
        ("::1", "", False),
        ("localhost", "", False),
        ("127.0.0.1", "on", True),
        ("0.0.0.0", "off", False),
        ("0.0.0.0", "on", True),
        ("10.1.2.3", "true", True),
    ],
)
def test_when_auth_is_on(host: str, auth: str, expected: bool) -> None:
    assert Settings(host=host, auth=auth).auth_on() is expected


def test_beyond_loopback_auth_must_be_chosen() -> None:
    for host in ("0.0.0.0", "::", "192.0.2.7", "pathkv.example"):
        with pytest.raises(ConfigError, match="PATHKV_AUTH"):
            Settings(host=host).auth_on()
    with pytest.raises(ConfigError):
        Settings.from_env({"PATHKV_AUTH": "maybe"})


def test_secrets_may_come_from_files(tmp_path: Path) -> None:
    token, url = tmp_path / "token", tmp_path / "url"
    token.write_text("  s3cret-admin-token\n")
    url.write_text(f"sqlite:///{tmp_path / 'x.db'}\n")
    settings = Settings.from_env(
        {"PATHKV_ADMIN_TOKEN_FILE": str(token), "PATHKV_STORE_FILE": str(url)}
    )
    assert settings.admin_secret() == "s3cret-admin-token"
    assert settings.store == f"sqlite:///{tmp_path / 'x.db'}"
    assert "PATHKV_STORE_FILE" not in settings.to_env()
    with pytest.raises(ConfigError, match="cannot read"):
        Settings(admin_token_file=str(tmp_path / "missing")).admin_secret()
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env({"PATHKV_STORE_FILE": str(url), "PATHKV_STORE": "sqlite:///y.db"})

"""The dashboard at /-/ui/ in a real browser (headless Chromium, driven by Playwright):
browse a level at a time, search, create, edit with a conflict, delete, a live update, sign in
with a tenant's token. Screenshots of the main views go to $PATHKV_UI_SCREENSHOTS when it is
set (docs/ui/ holds the ones docs/ui.md shows)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.e2e.test_browser_feed import chromium
from tests.servers import PathkvServer

ADMIN = "ui-admin-" + uuid.uuid4().hex
# Answers the page expects and handles (asking for a token, a conflict, a document gone):
# the browser still logs each one.
EXPECTED = tuple(
    f"Failed to load resource: the server responded with a status of {status}"
    for status in (401, 404, 412)
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("PATHKV_UI_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def open_page(browser: Browser, url: str, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.errors = []  # type: ignore[attr-defined]

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(EXPECTED):
            page.errors.append(message.text)  # type: ignore[attr-defined]

    page.on("console", console)
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    page.goto(url)
    return page


def test_browse_create_edit_with_a_conflict_delete_and_live(
    browser: Browser, tmp_path: Path
) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'ui.db'}")
    server.start()
    out = shots(tmp_path)
    try:
        api = httpx.Client(base_url=server.base, timeout=10)
        api.put("/app/config", json={"debug": False, "hosts": ["a", "b"]})
        api.put("/app/flags/beta", json={"on": True})
        api.put("/sensors/kitchen", json={"temp": 21.5})
        for _ in range(3):
            api.get("/sensors/kitchen")
        api.get("/app/config")

        page = open_page(browser, server.base + "/-/ui")  # redirected to /-/ui/
        assert page.url.endswith("/-/ui/")
        entries = page.locator("#entries")
        expect(entries.get_by_role("button", name="app/")).to_be_visible()
        expect(entries.get_by_role("button", name="sensors/")).to_be_visible()
        expect(page.locator("#hits li").first).to_contain_text("/sensors/kitchen")
        expect(page.locator("#live-state")).to_have_text("connected")

        # Browse a level at a time, open a document with its metadata.
        entries.get_by_role("button", name="app/").click()
        expect(entries.get_by_role("button", name="flags/")).to_be_visible()
        entries.get_by_role("button", name="config").click()
        expect(page.locator("#meta-version")).to_have_text("1")
        etag = api.get("/app/config?meta=1").json()["etag"]
        expect(page.locator("#meta-etag")).to_have_text(etag)
        assert '"hosts"' in page.locator("#body").input_value()
        expect(page.locator("#meta-ttl")).to_contain_text("d")
        page.screenshot(path=str(out / "browse.png"))

        # Invalid JSON cannot be saved.
        page.locator("#body").fill('{"debug": tru')
        expect(page.locator("#invalid")).to_contain_text("not JSON")
        expect(page.locator("#save")).to_be_disabled()

        # Edit while someone else writes: the conflict shows both versions.
        page.locator("#body").fill('{"debug": true, "by": "browser"}')
        api.put("/app/config", json={"debug": False, "by": "script"})
        page.locator("#save").click()
        expect(page.locator("#conflict")).to_be_visible()
        expect(page.locator("#mine")).to_contain_text('"browser"')
        expect(page.locator("#theirs")).to_contain_text('"script"')
        expect(page.locator("#theirs-caption")).to_contain_text("version 2")
        page.screenshot(path=str(out / "conflict.png"))
        page.locator("#keep-mine").click()
        expect(page.locator("#meta-version")).to_have_text("3")
        assert api.get("/app/config").json() == {"debug": True, "by": "browser"}

        # Create, with a TTL.
        page.locator("#new").click()
        page.locator("#path").fill("/app/created")
        page.locator("#body").fill('{"made": "in the browser"}')
        page.locator("#ttl").fill("3600")
        page.keyboard.press("Control+s")
        expect(page.locator("#meta-version")).to_have_text("1")
        expect(page.locator("#meta-ttl")).to_have_text(re.compile(r"^(1h|59m \d+s)$"))
        made = api.get("/app/created?meta=1").json()
        assert made["data"] == {"made": "in the browser"} and made["ttl"] <= 3600
        expect(entries.get_by_role("button", name="created")).to_be_visible()

        # A live update arrives, and the listing follows it.
        api.put("/app/from-a-script", json={"n": 1})
        expect(page.locator("#live li").first).to_contain_text("put /app/from-a-script")
        expect(entries.get_by_role("button", name="from-a-script")).to_be_visible()

        # Delete (after the browser's confirmation).
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#delete").click()
        expect(page.locator("#empty")).to_be_visible()
        assert api.get("/app/created").status_code == 404
        expect(page.locator("#live li").first).to_contain_text("delete /app/created")

        # Search by prefix: a flat listing of full paths.
        page.keyboard.press("/")
        page.keyboard.type("/sens")
        page.keyboard.press("Enter")
        expect(entries.get_by_role("button", name="/sensors/kitchen")).to_be_visible()
        entries.get_by_role("button", name="/sensors/kitchen").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#path")).to_have_value("/sensors/kitchen")
        page.screenshot(path=str(out / "document.png"), full_page=True)
        assert page.errors == []  # type: ignore[attr-defined]

        phone = open_page(browser, server.base + "/-/ui/", width=390, height=844)
        phone.locator("#entries").get_by_role("button", name="sensors/").click()
        phone.locator("#entries").get_by_role("button", name="kitchen").click()
        expect(phone.locator("#meta-version")).to_have_text("1")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px screen"
        phone.screenshot(path=str(out / "phone.png"), full_page=True)
        api.close()
    finally:
        server.stop()


def test_sign_in_with_a_tenant_token_sees_only_its_tenant(browser: Browser, tmp_path: Path) -> None:
    server = PathkvServer(
        f"sqlite:///{tmp_path / 'auth.db'}",
        env={"PATHKV_AUTH": "on", "PATHKV_ADMIN_TOKEN": ADMIN},
    )
    server.start()
    try:
        admin = httpx.Client(
            base_url=server.base, headers={"authorization": f"Bearer {ADMIN}"}, timeout=10
        )
        tokens = {}
        for name in ("acme", "globex"):
            assert admin.put(f"/-/tenants/{name}", json={}).status_code in (200, 201)
            made = admin.post(
                "/-/tokens",
                json={"tenant": name, "scopes": [{"prefix": "/", "allow": ["read", "write"]}]},
            )
            tokens[name] = made.json()["token"]
            httpx.put(
                f"{server.base}/{name}-only",
                json={"owner": name},
                headers={"authorization": f"Bearer {tokens[name]}"},
            ).raise_for_status()

        page = open_page(browser, server.base + "/-/ui/")
        expect(page.locator("#sign-in-dialog")).to_be_visible()  # 401: asks for a token
        page.locator("#token").fill(tokens["acme"])
        page.locator("#sign-in-submit").click()
        expect(page.locator("#who")).to_have_text("signed in")
        entries = page.locator("#entries")
        expect(entries.get_by_role("button", name="acme-only")).to_be_visible()
        expect(entries.get_by_role("button", name="globex-only")).to_have_count(0)
        expect(page.locator("#live-state")).to_have_text("connected")
        assert page.evaluate("sessionStorage.getItem('pathkv.token')") == tokens["acme"]
        assert page.evaluate("localStorage.length") == 0

        httpx.put(
            f"{server.base}/acme-live",
            json={"n": 1},
            headers={"authorization": f"Bearer {tokens['acme']}"},
        ).raise_for_status()
        httpx.put(
            f"{server.base}/globex-live",
            json={"n": 1},
            headers={"authorization": f"Bearer {tokens['globex']}"},
        ).raise_for_status()
        expect(page.locator("#live li").first).to_contain_text("/acme-live")
        expect(page.locator("#live")).not_to_contain_text("globex")
        page.screenshot(path=str(shots(tmp_path) / "signed-in.png"))

        page.locator("#sign-out").click()
        expect(page.locator("#who")).to_have_text("anonymous")
        assert page.evaluate("sessionStorage.getItem('pathkv.token')") is None
        assert page.errors == []  # type: ignore[attr-defined]
        admin.close()
    finally:
        server.stop()


def test_the_page_loads_only_its_own_assets(tmp_path: Path) -> None:
    server = PathkvServer(f"sqlite:///{tmp_path / 'csp.db'}")
    server.start()
    try:
        with httpx.Client(base_url=server.base) as client:
            page = client.get("/-/ui/")
            assert page.headers["content-type"].startswith("text/html")
            policy = page.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "script-src 'self'" in policy
            assert "http" not in page.text.replace("http-equiv", "")  # no CDN, no link out
            again = client.get("/-/ui/", headers={"if-none-match": page.headers["etag"]})
            assert again.status_code == 304
            for asset in ("app.js", "app.css", "icon.svg"):
                answer = client.get(f"/-/ui/{asset}")
                assert answer.status_code == 200 and answer.headers["x-content-type-options"]
            assert client.get("/-/ui/../secrets").status_code == 404
            assert client.get("/-/ui/nothing.js").status_code == 404
            assert client.put("/-/ui/app.js", json={}).status_code == 405
    finally:
        server.stop()

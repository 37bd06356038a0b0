"""A real browser (headless Chromium, driven by Playwright) follows the change feed with
EventSource, as a user's page would: from another origin (CORS), with its token in the URL
(EventSource sends no headers), and resuming by itself, with Last-Event-ID, after the
server was killed and came back."""

from __future__ import annotations

import http.server
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.servers import PathkvServer, free_port

ADMIN = "browser-admin-" + uuid.uuid4().hex
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>feed</title>
<script>
  window.got = [];
  window.opened = 0;
  const feed = new EventSource("%(url)s");
  feed.onopen = () => { window.opened += 1; };
  feed.addEventListener("put", (e) => { window.got.push(JSON.parse(e.data).data.n); });
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is not installed (.ci/run installs it)"
    return found


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A static file server on another port: the page's origin."""
    port = free_port()
    root = tmp_path / "site"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield port, root
    httpd.shutdown()
    httpd.server_close()


def test_a_browser_follows_the_feed_and_resumes(
    tmp_path: Path, page_server: tuple[int, Path]
) -> None:
    origin_port, root = page_server
    origin = f"http://127.0.0.1:{origin_port}"
    server = PathkvServer(
        f"sqlite:///{tmp_path / 'browser.db'}",
        env={
            "PATHKV_AUTH": "on",
            "PATHKV_ADMIN_TOKEN": ADMIN,
            "PATHKV_CORS_ORIGINS": origin,
        },
        workers=2,
    )
    server.start()
    server.wait_ready(steady=0.5)
    admin = {"authorization": f"Bearer {ADMIN}"}
    httpx.put(f"{server.base}/-/tenants/web", json={}, headers=admin)
    token = httpx.post(
        f"{server.base}/-/tokens",
        json={"tenant": "web", "scopes": [{"prefix": "/b", "allow": ["read", "write"]}]},
        headers=admin,
    ).json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    url = f"{server.base}/-/watch?prefix=/b/&access_token={token}"
    (root / "index.html").write_text(PAGE % {"url": url})
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
            try:
                page = browser.new_page()
                page.goto(f"{origin}/index.html")
                page.wait_for_function("window.opened >= 1", timeout=15_000)
                httpx.put(f"{server.base}/b/1", json={"n": 1}, headers=auth)
                page.wait_for_function("window.got.length >= 1", timeout=15_000)
                server.kill()  # the connection drops; EventSource retries by itself
                server.start()
                server.wait_ready(steady=0.5)
                for n in (2, 3, 4):
                    httpx.put(f"{server.base}/b/{n}", json={"n": n}, headers=auth, timeout=10)
                page.wait_for_function("window.got.length >= 4", timeout=30_000)
                time.sleep(0.5)
                got = page.evaluate("window.got")
                opened = page.evaluate("window.opened")
            finally:
                browser.close()
    finally:
        server.stop()
    assert got == [1, 2, 3, 4]  # each once, in order: resumed from its Last-Event-ID
    assert opened >= 2

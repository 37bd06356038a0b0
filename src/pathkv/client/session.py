"""What both clients send with every request, and how a bad URL is reported."""

from __future__ import annotations

from typing import Any

import httpx

from pathkv import __version__

# A watch's stream is idle between heartbeats (15 s by default): wait longer than that
# before calling the connection lost.
WATCH_READ_TIMEOUT = httpx.Timeout(10.0, read=60.0)


def session_options(url: str, token: str | None, timeout: float) -> dict[str, Any]:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    headers = {"user-agent": f"pathkv-client/{__version__}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {"base_url": url, "headers": headers, "timeout": timeout}

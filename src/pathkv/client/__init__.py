"""pathkv's Python client: ``Client`` (blocking) and ``AsyncClient`` (asyncio), one API.

    from pathkv.client import Client

    with Client("http://127.0.0.1:8080", token=None) as kv:
        kv.put("/config/app", {"debug": False})
        kv.update("/config/app", lambda doc: {**(doc or {}), "debug": True})
        for path in kv.keys("/config/"):
            print(path, kv.get(path))

Installing ``pathkv`` brings only this client and the command line (httpx, click, rich);
``pathkv[server]`` adds the service. See docs/client.md.
"""

from pathkv.client.aio import AsyncClient
from pathkv.client.calls import Entry, Hit, Meta
from pathkv.client.errors import (
    BadRequest,
    Busy,
    Conflict,
    ConnectionFailed,
    CursorExpired,
    DamagedDocument,
    Forbidden,
    InternalError,
    InvalidDocument,
    InvalidParameter,
    InvalidPath,
    MethodNotAllowed,
    NotFound,
    NotReady,
    PathkvError,
    PathTooLong,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    RateLimited,
    RequestTimeout,
    StoreTimeout,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from pathkv.client.events import Event
from pathkv.client.policy import Backoff
from pathkv.client.sync import Client

__all__ = [
    "AsyncClient",
    "Backoff",
    "BadRequest",
    "Busy",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "CursorExpired",
    "DamagedDocument",
    "Entry",
    "Event",
    "Forbidden",
    "Hit",
    "InternalError",
    "InvalidDocument",
    "InvalidParameter",
    "InvalidPath",
    "Meta",
    "MethodNotAllowed",
    "NotFound",
    "NotReady",
    "PathTooLong",
    "PathkvError",
    "PayloadTooLarge",
    "PreconditionFailed",
    "QuotaExceeded",
    "RateLimited",
    "RequestTimeout",
    "StoreTimeout",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
]

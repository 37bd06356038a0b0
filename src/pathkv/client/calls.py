"""Every call of the API once, without I/O: what to send and how to read the answer.

``Client`` and ``AsyncClient`` run these ``Call`` values with their own transport, so the two
stay the same API by construction. ``Retry`` says which failures a call may be repeated after.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, KeysView, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import quote

import httpx

T = TypeVar("T")
Document = dict[str, Any]


class Retry(enum.Enum):
    """When a failed call may be sent again."""

    ANY = "any"
    """Reads and unconditional writes: repeating them leaves what one call leaves."""
    UNDONE = "undone"
    """Conditional writes and token creation: only when the server did nothing (the request
    was never sent, or refused as busy or not ready): a repeat of one that took effect would
    fail its own precondition or make a second token."""


class Fields:
    """Read as attributes (``meta.etag``) or by the API's JSON names (``meta["etag"]``,
    ``dict(meta)``)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def keys(self) -> KeysView[str]:
        return self.__dataclass_fields__.keys()

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self.__dataclass_fields__ else default


@dataclass(frozen=True)
class Meta(Fields):
    """The metadata view of a document (``GET /<path>?meta=1``, and every write's answer)."""

    path: str
    data: Document
    last_updated: int
    ttl: int
    hits: int
    version: int
    etag: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Meta:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Hit(Fields):
    path: str
    hits: int


@dataclass(frozen=True)
class Entry(Fields):
    """One name in a level listing: a document, or a folder (a prefix ending in ``/``)."""

    path: str
    folder: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    target: str
    read: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    retry: Retry = Retry.ANY
    ok: frozenset[int] = frozenset((200,))


def target(path: str) -> str:
    """The URL path of a document, percent-encoded (``?``, ``#``, ``%`` and non-ASCII)."""
    if not path.startswith("/"):
        path = "/" + path
    return quote(path, safe="/!$&'()*+,;=:@-._~")


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content)


def _nothing(response: httpx.Response) -> None:
    return None


def _meta(response: httpx.Response) -> Meta:
    return Meta.of(_json(response))


def encode(data: Mapping[str, Any]) -> bytes:
    if not isinstance(data, Mapping):
        raise TypeError(f"a document is a JSON object (a dict), not {type(data).__name__}")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _tags(value: str | list[str]) -> str:
    return value if isinstance(value, str) else ", ".join(value)


def get(path: str) -> Call[Document]:
    return Call("GET", target(path), _json)


def meta(path: str) -> Call[Meta]:
    return Call("GET", target(path), _meta, {"meta": "1"})


def put(
    path: str,
    data: Mapping[str, Any],
    ttl: int | None = None,
    if_match: str | list[str] | None = None,
    if_none_match: str | None = None,
) -> Call[Meta]:
    headers = {"content-type": "application/json"}
    if if_match is not None:
        headers["if-match"] = _tags(if_match)
    if if_none_match is not None:
        headers["if-none-match"] = if_none_match
    conditional = if_match is not None or if_none_match is not None
    return Call(
        "PUT",
        target(path),
        _meta,
        {"ttl": str(ttl)} if ttl is not None else {},
        headers,
        encode(data),
        Retry.UNDONE if conditional else Retry.ANY,
        frozenset((200, 201)),
    )


def delete(path: str, if_match: str | list[str] | None = None) -> Call[None]:
    headers = {"if-match": _tags(if_match)} if if_match is not None else {}
    retry = Retry.ANY if if_match is None else Retry.UNDONE
    return Call("DELETE", target(path), _nothing, {}, headers, None, retry, frozenset((204,)))


def keys_page(
    prefix: str, after: str | None, limit: int | None, delimiter: str | None = None
) -> Call[dict[str, Any]]:
    params = {"prefix": prefix}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = str(limit)
    if delimiter is not None:
        params["delimiter"] = delimiter
    return Call("GET", "/-/keys", _json, params)


def keys(prefix: str, after: str | None, limit: int | None) -> Call[Page[str]]:
    page = keys_page(prefix, after, limit)

    def read(response: httpx.Response) -> Page[str]:
        body = _json(response)
        return Page([item["path"] for item in body["items"]], body.get("next"))

    return Call(page.method, page.target, read, page.params)


def level(prefix: str, after: str | None, delimiter: str) -> Call[Page[Entry]]:
    page = keys_page(prefix, after, None, delimiter)

    def read(response: httpx.Response) -> Page[Entry]:
        body = _json(response)
        entries = [Entry(p, True) for p in body.get("prefixes", [])]
        entries += [Entry(item["path"], False) for item in body["items"]]
        entries.sort(key=lambda entry: entry.path)
        return Page(entries, body.get("next"))

    return Call(page.method, page.target, read, page.params)


def hits(limit: int | None) -> Call[list[Hit]]:
    def read(response: httpx.Response) -> list[Hit]:
        return [Hit(item["path"], item["hits"]) for item in _json(response)["items"]]

    return Call("GET", "/-/hits", read, {"limit": str(limit)} if limit is not None else {})


def count() -> Call[int]:
    def read(response: httpx.Response) -> int:
        return int(_json(response)["count"])

    return Call("GET", "/", read)


def admin(method: str, where: str, body: Mapping[str, Any] | None = None) -> Call[Any]:
    """A call on ``/-/tenants`` or ``/-/tokens`` (auth on, with an admin token)."""
    if method == "POST":
        retry, ok = Retry.UNDONE, frozenset((201,))
    else:
        retry, ok = Retry.ANY, frozenset((200, 201, 204))
    content = encode(body) if body is not None else None
    headers = {"content-type": "application/json"} if content is not None else {}
    read = _nothing if method == "DELETE" else _json
    return Call(method, where, read, {}, headers, content, retry, ok)


def watch_params(prefix: str | None, path: str | None) -> dict[str, str]:
    if prefix is not None and path is not None:
        raise ValueError("watch a prefix or a path, not both")
    if path is not None:
        return {"path": path}
    return {"prefix": prefix or "/"}

"""Tenants: who owns a namespace, what it may use (quota) and how fast (rate).

A tenant's name is its namespace's name. ``default`` always exists: it owns the data of
anonymous requests (auth off) and of everything written before tenants existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pathkv.core.contract import Limits, Usage
from pathkv.core.errors import BadRequest
from pathkv.core.namespaces import DEFAULT, Namespace

# Counts and sizes are kept in signed 64-bit integers by every engine; a window of a day at
# most keeps a rate a rate.
LARGEST = 2**53
LONGEST_WINDOW = 24 * 3600
QUOTA_FIELDS = ("documents", "bytes", "document_bytes")
RATE_FIELDS = ("requests", "window")


@dataclass(frozen=True, slots=True)
class Quota:
    documents: int | None = None
    """Documents the tenant may hold (507 beyond)."""
    bytes: int | None = None
    """Bytes of compact JSON its documents may hold in all (507 beyond)."""
    document_bytes: int | None = None
    """Largest document, in bytes of compact JSON (413 beyond)."""

    def limits(self) -> Limits | None:
        """What the store checks with each write; None when nothing is limited there."""
        if self.documents is None and self.bytes is None:
            return None
        return Limits(self.documents, self.bytes)

    def view(self) -> dict[str, int | None]:
        return {
            "documents": self.documents,
            "bytes": self.bytes,
            "document_bytes": self.document_bytes,
        }


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int
    """Requests accepted per window."""
    window: int
    """The window, in seconds."""

    def view(self) -> dict[str, int]:
        return {"requests": self.requests, "window": self.window}


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    quota: Quota = Quota()
    rate: Rate | None = None

    @property
    def namespace(self) -> Namespace:
        return Namespace(self.name)

    def view(self, usage: Usage) -> dict[str, Any]:
        return {
            "name": self.name,
            "quota": self.quota.view(),
            "rate": self.rate.view() if self.rate is not None else None,
            "usage": {"documents": usage.documents, "bytes": usage.bytes},
        }

    def dump(self) -> bytes:
        return orjson.dumps(
            {
                "name": self.name,
                "quota": self.quota.view(),
                "rate": self.rate.view() if self.rate else None,
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> Tenant:
        item = orjson.loads(raw)
        return cls(item["name"], parse_quota(item.get("quota")), parse_rate(item.get("rate")))


DEFAULT_TENANT = Tenant(DEFAULT.name)


def _count(where: str, value: Any, low: int = 0) -> int:
    if type(value) is not int or not low <= value < LARGEST:
        raise BadRequest(f"{where} must be a whole number from {low} to {LARGEST - 1}")
    return value


def _object(where: str, value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise BadRequest(
            f"{where} has no field {unknown[0][:64]!r} (it takes {', '.join(allowed)})"
        )
    return value


def parse_quota(value: Any) -> Quota:
    """``{"documents": N|null, "bytes": N|null, "document_bytes": N|null}``, or null."""
    if value is None:
        return Quota()
    item = _object("'quota'", value, QUOTA_FIELDS)
    counts = [
        None if item.get(name) is None else _count(f"'quota.{name}'", item[name])
        for name in QUOTA_FIELDS
    ]
    return Quota(*counts)


def parse_rate(value: Any) -> Rate | None:
    """``{"requests": N, "window": SECONDS}``, or null for no limit."""
    if value is None:
        return None
    item = _object("'rate'", value, RATE_FIELDS)
    for name in RATE_FIELDS:
        if name not in item:
            raise BadRequest(f"'rate' needs '{name}'")
    window = _count("'rate.window'", item["window"], 1)
    if window > LONGEST_WINDOW:
        raise BadRequest(f"'rate.window' must be at most {LONGEST_WINDOW} seconds (a day)")
    return Rate(_count("'rate.requests'", item["requests"], 1), window)


def parse_tenant(name: str, body: bytes) -> Tenant:
    """A tenant from ``PUT /-/tenants/<name>``'s body (an empty body: no limits)."""
    namespace = Namespace(name)  # the name's rule, and its 400
    if not body.strip():
        return Tenant(namespace.name)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    item = _object("the body", value, ("quota", "rate", "name"))
    if item.get("name", namespace.name) != namespace.name:
        raise BadRequest("'name' in the body differs from the name in the path")
    return Tenant(namespace.name, parse_quota(item.get("quota")), parse_rate(item.get("rate")))

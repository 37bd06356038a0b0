"""The bodies of tenant and token requests, shared by both clients and the command line."""

from __future__ import annotations

from typing import Any

READ_WRITE = ("read", "write")


def tenant_body(
    documents: int | None = None,
    bytes: int | None = None,  # the quota's own name
    document_bytes: int | None = None,
    rate: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``PUT /-/tenants/<name>``: quota (None: unlimited) and rate (requests, window)."""
    return {
        "quota": {"documents": documents, "bytes": bytes, "document_bytes": document_bytes},
        "rate": {"requests": rate[0], "window": rate[1]} if rate is not None else None,
    }


def token_body(
    tenant: str | None = None,
    *,
    admin: bool = False,
    scopes: dict[str, list[str] | tuple[str, ...]] | None = None,
    name: str | None = None,
    expires_in: int | None = None,
    rate: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``POST /-/tokens``: an admin token, or a tenant's with scopes ``{prefix: [read,
    write]}`` (default: read and write everywhere)."""
    if admin == (tenant is not None):
        raise ValueError("a token is for a tenant or admin, one of the two")
    body: dict[str, Any] = {"admin": True} if admin else {"tenant": tenant}
    if not admin:
        chosen = scopes if scopes else {"/": READ_WRITE}
        body["scopes"] = [{"prefix": p, "allow": list(allow)} for p, allow in chosen.items()]
    if name is not None:
        body["name"] = name
    if expires_in is not None:
        body["expires_in"] = expires_in
    if rate is not None:
        body["rate"] = {"requests": rate[0], "window": rate[1]}
    return body

"""A PathKVTenant's spec, read into the calls of pathkv's admin API (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pathkv.operator.children import API_VERSION, MANAGER, Object, encode


def tenant_name(namespace: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("tenant") or namespace)


def quota(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `put_tenant` (pathkv.client.accounts.tenant_body)."""
    raw = spec.get("quota") or {}
    rate = spec.get("rate")
    return {
        "documents": raw.get("documents"),
        "bytes": raw.get("bytes"),
        "document_bytes": raw.get("documentBytes"),
        "rate": (int(rate["requests"]), int(rate["window"])) if rate else None,
    }


def token_options(token: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `create_token` for one entry of `spec.tokens`."""
    allow = ["read"] if token.get("readOnly") else None
    scopes = {
        scope["prefix"]: allow or list(scope.get("allow") or ["read", "write"])
        for scope in token.get("scopes") or [{"prefix": "/"}]
    }
    return {"scopes": scopes, "name": token["name"]}


def token_secret(
    name: str, namespace: str, owner: Mapping[str, Any], made: Mapping[str, Any], url: str
) -> Object:
    """The Secret a tenant's workloads mount: the token, its id and the instance's URL."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGER},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "PathKVTenant",
                    "name": owner["name"],
                    "uid": owner["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "type": "Opaque",
        "data": encode({"token": str(made["token"]), "token-id": str(made["id"]), "url": url}),
    }

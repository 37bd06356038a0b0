"""Tenants and tokens managed on a store directly (``--store``: the first admin token,
Kubernetes Jobs), with the rules of ``/-/tenants`` and ``/-/tokens`` and the request bodies
the client sends, so both ways give the same answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from pathkv.client.accounts import tenant_body, token_body
from pathkv.core.accounts import Accounts
from pathkv.core.contract import Store
from pathkv.core.service import now_ms
from pathkv.core.tenants import parse_tenant
from pathkv.core.tokens import parse_token_request

Action = Callable[[Store, Accounts, dict[str, Any]], Awaitable[Any]]


def on_store(store_url: str, action: str, args: dict[str, Any]) -> Any:
    """Run one action (``tenant-put``, ``token-create``, ...) on the store; its answer."""
    from pathkv.cli.server import settings_for, with_store

    async def run(store: Store) -> Any:
        return await ACTIONS[action](store, Accounts(store, None, now_ms), args)

    creates = action in ("tenant-put", "token-create")
    return asyncio.run(with_store(settings_for(store_url), run, creates))


async def _tenant_put(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    found = parse_tenant(args["name"], orjson.dumps(tenant_body(**args["quota"])))
    await accounts.put_tenant(found)
    return found.view(await store.usage(found.namespace))


async def _tenant_get(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    found = await accounts.require_tenant(args["name"])
    return found.view(await store.usage(found.namespace))


async def _tenant_list(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    return {"items": [t.view(await store.usage(t.namespace)) for t in await accounts.tenants()]}


async def _tenant_delete(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    await accounts.delete_tenant(args["name"])
    return {"deleted": args["name"]}


async def _token_create(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    body = token_body(args["tenant"], **args["options"])
    made, secret = await accounts.create_token(parse_token_request(orjson.dumps(body)))
    return {**made.view(), "token": secret}


async def _token_list(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    return {"items": [t.view() for t in await accounts.tokens(args["tenant"])]}


async def _token_revoke(store: Store, accounts: Accounts, args: dict[str, Any]) -> Any:
    await accounts.revoke(args["id"])
    return {"revoked": args["id"]}


ACTIONS: dict[str, Action] = {
    "tenant-put": _tenant_put,
    "tenant-get": _tenant_get,
    "tenant-list": _tenant_list,
    "tenant-delete": _tenant_delete,
    "token-create": _token_create,
    "token-list": _token_list,
    "token-revoke": _token_revoke,
}

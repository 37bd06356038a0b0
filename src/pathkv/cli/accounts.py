"""``pathkv tenant ...`` and ``pathkv token ...``: tenants and tokens managed on a store
directly (first set-up, Kubernetes Jobs), with the rules of ``/-/tenants`` and ``/-/tokens``.

Each prints its answer as one JSON line, as the HTTP API would give it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from pathkv.cli import CliError
from pathkv.core.accounts import Accounts
from pathkv.core.contract import Store
from pathkv.core.service import now_ms
from pathkv.core.tenants import parse_tenant
from pathkv.core.tokens import PERMISSIONS, parse_token_request


def add_commands(commands: Any) -> None:
    tenant = commands.add_parser("tenant", help="create, change, show or delete tenants")
    actions = tenant.add_subparsers(dest="action", required=True)
    put = _action(actions, "put", "create a tenant or replace its quota and rate")
    put.add_argument("name")
    put.add_argument("--documents", type=int, help="documents it may hold")
    put.add_argument("--bytes", type=int, help="bytes of JSON it may hold in all")
    put.add_argument("--document-bytes", type=int, help="largest document, in bytes")
    _rate_flags(put)
    _action(actions, "get", "show a tenant").add_argument("name")
    _action(actions, "delete", "delete a tenant, its tokens and its data").add_argument("name")
    _action(actions, "list", "every tenant")

    token = commands.add_parser("token", help="make, list or revoke tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = _action(actions, "create", "make a token (its secret is shown once)")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="the tenant it acts for")
    who.add_argument("--admin", action="store_true", help="an admin token")
    create.add_argument(
        "--scope",
        action="append",
        metavar="PREFIX=read,write",
        help="a path prefix and what it allows (repeatable; default /=read,write)",
    )
    create.add_argument("--expires-in", type=int, metavar="SECONDS")
    create.add_argument("--name", help="what it is for (shown when listing)")
    _rate_flags(create)
    _action(actions, "list", "tokens, without their secrets").add_argument("--tenant")
    _action(actions, "revoke", "revoke a token by its id").add_argument("id")


def _action(actions: Any, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=text)
    parser.add_argument("--store", help="store URL (default: PATHKV_STORE)")
    return parser


def _rate_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate-requests", type=int, help="requests per window")
    parser.add_argument("--rate-window", type=int, metavar="SECONDS", help="the window")


def _rate(args: argparse.Namespace) -> dict[str, int] | None:
    if args.rate_requests is None and args.rate_window is None:
        return None
    return {"requests": args.rate_requests, "window": args.rate_window}


def _scopes(values: list[str] | None) -> list[dict[str, Any]]:
    if not values:
        return [{"prefix": "/", "allow": list(PERMISSIONS)}]
    scopes = []
    for value in values:
        prefix, sep, allow = value.partition("=")
        if not sep:
            raise CliError(f"--scope {value!r}: write PREFIX=read, PREFIX=write or both")
        scopes.append({"prefix": prefix, "allow": [a.strip() for a in allow.split(",") if a]})
    return scopes


def _print(value: object) -> None:
    sys.stdout.write(orjson.dumps(value).decode("utf-8") + "\n")


async def tenant(store: Store, args: argparse.Namespace) -> int:
    accounts = Accounts(store, None, now_ms)
    if args.action == "put":
        body = {
            "quota": {
                "documents": args.documents,
                "bytes": args.bytes,
                "document_bytes": args.document_bytes,
            },
            "rate": _rate(args),
        }
        found = parse_tenant(args.name, orjson.dumps(body))
        await accounts.put_tenant(found)
        _print(found.view(await store.usage(found.namespace)))
    elif args.action == "get":
        found = await accounts.require_tenant(args.name)
        _print(found.view(await store.usage(found.namespace)))
    elif args.action == "list":
        items = [t.view(await store.usage(t.namespace)) for t in await accounts.tenants()]
        _print({"items": items})
    else:
        await accounts.delete_tenant(args.name)
        _print({"deleted": args.name})
    return 0


async def token(store: Store, args: argparse.Namespace) -> int:
    accounts = Accounts(store, None, now_ms)
    if args.action == "create":
        body: dict[str, Any] = {"name": args.name, "expires_in": args.expires_in}
        if args.admin:
            body["admin"] = True
        else:
            body["tenant"] = args.tenant
            body["scopes"] = _scopes(args.scope)
        if _rate(args) is not None:
            body["rate"] = _rate(args)
        made, secret = await accounts.create_token(
            parse_token_request(orjson.dumps({k: v for k, v in body.items() if v is not None}))
        )
        _print({**made.view(), "token": secret})
    elif args.action == "list":
        _print({"items": [t.view() for t in await accounts.tokens(args.tenant)]})
    else:
        await accounts.revoke(args.id)
        _print({"revoked": args.id})
    return 0

"""``pathkv tenant ...`` and ``pathkv token ...``: over HTTP with an admin token (the
default), or with ``--store`` on a store directly (the first admin token, Kubernetes Jobs).
Each prints its answer as JSON, as the HTTP API gives it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pathkv.cli.output import CliError, show_json
from pathkv.cli.remote import connect, http_options

F = TypeVar("F", bound=Callable[..., Any])


def _where(command: F) -> F:
    command = click.option(
        "--store", help="work on this store directly instead of over HTTP (needs pathkv[server])"
    )(command)
    return http_options(command)


def _rate_options(command: F) -> F:
    command = click.option("--rate-window", type=int, metavar="SECONDS", help="the window")(command)
    return click.option("--rate-requests", type=int, help="requests per window")(command)


def _rate(requests: int | None, window: int | None) -> tuple[int, int] | None:
    if requests is None and window is None:
        return None
    if requests is None or window is None:
        raise CliError("give --rate-requests and --rate-window together")
    return requests, window


def parse_scopes(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    """``PREFIX=read,write`` flags as ``{prefix: [permissions]}`` (None: the default)."""
    scopes: dict[str, list[str]] = {}
    for value in values:
        prefix, sep, allow = value.partition("=")
        if not sep:
            raise CliError(f"--scope {value!r}: write PREFIX=read, PREFIX=write or both")
        scopes[prefix] = [a.strip() for a in allow.split(",") if a.strip()]
    return scopes or None


@click.group()
def tenant() -> None:
    """Create, change, show or delete tenants."""


@click.group()
def token() -> None:
    """Make, list or revoke tokens."""


@tenant.command("put")
@click.argument("name")
@click.option("--documents", type=int, help="documents it may hold")
@click.option("--bytes", "size", type=int, help="bytes of JSON it may hold in all")
@click.option("--document-bytes", type=int, help="largest document, in bytes")
@_rate_options
@_where
def tenant_put(
    name: str,
    documents: int | None,
    size: int | None,
    document_bytes: int | None,
    rate_requests: int | None,
    rate_window: int | None,
    store: str | None,
    **http: Any,
) -> None:
    """Create a tenant or replace its quota and rate."""
    quota = {
        "documents": documents,
        "bytes": size,
        "document_bytes": document_bytes,
        "rate": _rate(rate_requests, rate_window),
    }
    _act(store, http, "tenant-put", {"name": name, "quota": quota})


@tenant.command("get")
@click.argument("name")
@_where
def tenant_get(name: str, store: str | None, **http: Any) -> None:
    """Show a tenant, with its usage."""
    _act(store, http, "tenant-get", {"name": name})


@tenant.command("list")
@_where
def tenant_list(store: str | None, **http: Any) -> None:
    """Every tenant."""
    _act(store, http, "tenant-list", {})


@tenant.command("delete")
@click.argument("name")
@_where
def tenant_delete(name: str, store: str | None, **http: Any) -> None:
    """Delete a tenant, its tokens and its data."""
    _act(store, http, "tenant-delete", {"name": name})


@token.command("create")
@click.option("--tenant", "owner", help="the tenant it acts for")
@click.option("--admin", is_flag=True, help="an admin token")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="PREFIX=read,write",
    help="a path prefix and what it allows (repeatable; default /=read,write)",
)
@click.option("--expires-in", type=int, metavar="SECONDS")
@click.option("--name", help="what it is for (shown when listing)")
@_rate_options
@_where
def token_create(
    owner: str | None,
    admin: bool,
    scopes: tuple[str, ...],
    expires_in: int | None,
    name: str | None,
    rate_requests: int | None,
    rate_window: int | None,
    store: str | None,
    **http: Any,
) -> None:
    """Make a token; its secret ("token") is shown once."""
    if admin == (owner is not None):
        raise CliError("give --tenant NAME or --admin (one of the two)")
    if admin and scopes:
        raise CliError("an admin token has no scopes: it may do everything")
    options = {
        "admin": admin,
        "scopes": parse_scopes(scopes),
        "name": name,
        "expires_in": expires_in,
        "rate": _rate(rate_requests, rate_window),
    }
    _act(store, http, "token-create", {"tenant": owner, "options": options})


@token.command("list")
@click.option("--tenant", "owner", help="only this tenant's")
@_where
def token_list(owner: str | None, store: str | None, **http: Any) -> None:
    """Tokens, without their secrets."""
    _act(store, http, "token-list", {"tenant": owner})


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@_where
def token_revoke(token_id: str, store: str | None, **http: Any) -> None:
    """Revoke a token by its id."""
    _act(store, http, "token-revoke", {"id": token_id})


def _act(store: str | None, http: dict[str, Any], action: str, args: dict[str, Any]) -> None:
    """Run one action on the store (``--store``) or over HTTP; print what it answers."""
    if store is not None:
        from pathkv.cli.accounts import on_store

        show_json(on_store(store, action, args))
        return
    with connect(http["url"], http["token"], http["timeout"]) as kv:
        show_json(OVER_HTTP[action](kv, args))


OVER_HTTP: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "tenant-put": lambda kv, a: kv.put_tenant(a["name"], **a["quota"]),
    "tenant-get": lambda kv, a: kv.tenant(a["name"]),
    "tenant-list": lambda kv, a: {"items": kv.tenants()},
    "tenant-delete": lambda kv, a: (kv.delete_tenant(a["name"]), {"deleted": a["name"]})[1],
    "token-create": lambda kv, a: kv.create_token(a["tenant"], **a["options"]),
    "token-list": lambda kv, a: {"items": kv.tokens(a["tenant"])},
    "token-revoke": lambda kv, a: (kv.revoke(a["id"]), {"revoked": a["id"]})[1],
}

"""Tokens: bearer secrets, what each may do (scopes), and who it acts for.

A token is ``pkv_<id>_<secret>``: the id (16 hex digits) finds its record, and the record
holds only the SHA-256 of the whole token, compared in constant time. The token itself is
shown once, when it is made; nothing stores or logs it.

A tenant token acts in its tenant's namespace, within its scopes: ``read`` (GET, HEAD,
``?meta=1``, listing, ranking, the counter) and ``write`` (PUT, DELETE) below a path prefix,
matched on segment boundaries (``/app`` covers ``/app`` and ``/app/x``, not ``/apple``)
against the normalized path. An admin token may do everything, in any tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from pathkv.core.errors import BadRequest, PathTooLong
from pathkv.core.namespaces import Namespace
from pathkv.core.paths import ROOT, is_reserved, normalize
from pathkv.core.tenants import LARGEST, Rate, parse_rate

READ = "read"
WRITE = "write"
PERMISSIONS = (READ, WRITE)
PREFIX = "pkv_"
_TOKEN = re.compile(r"pkv_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")
MAX_SCOPES = 64
TOKEN_FIELDS = ("tenant", "admin", "scopes", "expires_in", "name", "rate")


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token: str) -> str | None:
    """The id inside a well-formed token, else None."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def new_token() -> tuple[str, str]:
    """A fresh (id, token): 64 random bits of id, 256 of secret."""
    ident = secrets.token_hex(8)
    return ident, f"{PREFIX}{ident}_{secrets.token_urlsafe(32)}"


def same_digest(stored: str, token: str) -> bool:
    return hmac.compare_digest(stored.encode("ascii"), digest_of(token).encode("ascii"))


@dataclass(frozen=True, slots=True)
class Scope:
    prefix: str
    allow: frozenset[str]

    def covers(self, path: str) -> bool:
        prefix = self.prefix
        return (
            prefix == ROOT
            or path == prefix
            or (path.startswith(prefix) and path[len(prefix)] == "/")
        )

    def view(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "allow": [p for p in PERMISSIONS if p in self.allow]}


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    digest: str
    tenant: str | None
    """The tenant it acts for; None for an admin token."""
    scopes: tuple[Scope, ...] = ()
    expires_at: int | None = None
    """Unix milliseconds; None: it does not expire."""
    name: str | None = None
    rate: Rate | None = None
    created_at: int = 0

    @property
    def admin(self) -> bool:
        return self.tenant is None

    def view(self) -> dict[str, Any]:
        """What ``/-/tokens`` shows: everything but the digest. Times in Unix seconds."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "admin": self.admin,
            "scopes": [scope.view() for scope in self.scopes],
            "expires_at": None if self.expires_at is None else self.expires_at // 1000,
            "name": self.name,
            "rate": self.rate.view() if self.rate is not None else None,
            "created_at": self.created_at // 1000,
        }

    def dump(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "digest": self.digest,
                "tenant": self.tenant,
                "scopes": [scope.view() for scope in self.scopes],
                "expires_at_ms": self.expires_at,
                "name": self.name,
                "rate": self.rate.view() if self.rate is not None else None,
                "created_at_ms": self.created_at,
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> Token:
        item = orjson.loads(raw)
        return cls(
            item["id"],
            item["digest"],
            item["tenant"],
            parse_scopes(item["scopes"]) if item["scopes"] else (),
            item.get("expires_at_ms"),
            item.get("name"),
            parse_rate(item.get("rate")),
            item.get("created_at_ms", 0),
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: its namespace, and what it may do there."""

    namespace: Namespace
    admin: bool
    scopes: tuple[Scope, ...] = ()
    token: Token | None = None
    """The stored token it came from (None for the bootstrap admin secret)."""

    def may(self, permission: str, path: str) -> bool:
        if self.admin:
            return True
        # Tuning: a loop, not any() over a generator (a request's most common check).
        for scope in self.scopes:  # noqa: SIM110
            if permission in scope.allow and scope.covers(path):
                return True
        return False

    def may_look_into(self, permission: str, folder: str) -> bool:
        """True when it may do that to some path that starts with folder (a listing's
        child folder is shown only then)."""
        if self.may(permission, folder):
            return True
        return any(
            permission in scope.allow and scope.prefix.startswith(folder) for scope in self.scopes
        )

    def may_at_all(self, permission: str) -> bool:
        return self.admin or any(permission in scope.allow for scope in self.scopes)

    @property
    def reads_everything(self) -> bool:
        return self.admin or any(
            READ in scope.allow and scope.prefix == ROOT for scope in self.scopes
        )


def parse_scopes(value: Any) -> tuple[Scope, ...]:
    """``[{"prefix": "/app", "allow": ["read", "write"]}, ...]``; prefixes are normalized
    (``/app/../x`` is ``/x``) and may not reach into ``/-/``."""
    if not isinstance(value, list) or not value:
        raise BadRequest("'scopes' must be a non-empty list of {prefix, allow}")
    if len(value) > MAX_SCOPES:
        raise BadRequest(f"a token takes at most {MAX_SCOPES} scopes")
    scopes = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"prefix", "allow"}:
            raise BadRequest('a scope is {"prefix": "/path", "allow": ["read", "write"]}')
        prefix, allow = item.get("prefix", ROOT), item.get("allow")
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise BadRequest("a scope's 'prefix' must be a path starting with '/'")
        try:
            prefix = normalize(prefix.encode("utf-8"))
        except (BadRequest, PathTooLong) as exc:
            raise BadRequest(f"a scope's 'prefix': {exc.detail}") from None
        if is_reserved(prefix):
            raise BadRequest("a scope's 'prefix' may not be under /-/")
        if (
            not isinstance(allow, list)
            or not allow
            or not all(isinstance(p, str) and p in PERMISSIONS for p in allow)
        ):
            raise BadRequest("a scope's 'allow' must list 'read', 'write' or both")
        scopes.append(Scope(prefix, frozenset(allow)))
    return tuple(scopes)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    tenant: str | None
    scopes: tuple[Scope, ...]
    expires_in: int | None
    name: str | None
    rate: Rate | None


def parse_token_request(body: bytes) -> TokenRequest:
    """``POST /-/tokens``'s body: a tenant and scopes, or ``"admin": true``."""
    try:
        item = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(item, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(item) - set(TOKEN_FIELDS))
    if unknown:
        raise BadRequest(
            f"a token has no field {unknown[0][:64]!r} (it takes {', '.join(TOKEN_FIELDS)})"
        )
    admin = item.get("admin", False)
    if type(admin) is not bool:
        raise BadRequest("'admin' must be true or false")
    tenant = item.get("tenant")
    if admin:
        if tenant is not None:
            raise BadRequest("an admin token acts in every tenant: give 'admin' or 'tenant'")
        scopes: tuple[Scope, ...] = ()
        if item.get("scopes") is not None:
            raise BadRequest("an admin token takes no 'scopes'")
    else:
        if not isinstance(tenant, str):
            raise BadRequest("a token needs 'tenant' (a tenant's name) or 'admin': true")
        tenant = Namespace(tenant).name
        scopes = parse_scopes(item.get("scopes", [{"prefix": "/", "allow": list(PERMISSIONS)}]))
    expires_in = item.get("expires_in")
    if expires_in is not None and (
        type(expires_in) is not int or not 1 <= expires_in < LARGEST // 1000
    ):
        raise BadRequest("'expires_in' must be a whole number of seconds, at least 1")
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 200):
        raise BadRequest("'name' must be a text of 1 to 200 characters")
    return TokenRequest(tenant, scopes, expires_in, name, parse_rate(item.get("rate")))

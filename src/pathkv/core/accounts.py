"""Tenants and tokens as use cases: managing them, and telling who a request acts for.

Lookups are cached for CACHE_SECONDS, so a steady stream of requests costs no store round
trip for authentication, and a revoked token, a deleted tenant or a changed quota reaches
every worker and replica within a second (the cache holds an answer for half of that, the
store's answer takes the rest at most).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pathkv.core.contract import Bucket, Store, Taken
from pathkv.core.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from pathkv.core.namespaces import DEFAULT, Namespace
from pathkv.core.tenants import DEFAULT_TENANT, Rate, Tenant
from pathkv.core.tokens import (
    Principal,
    Token,
    TokenRequest,
    digest_of,
    new_token,
    same_digest,
    token_id,
)

TENANT = "tenant"
TOKEN = "token"
CACHE_SECONDS = 0.5
# Tuning: a bounded cache; past this many entries it starts again empty.
CACHE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Policy:
    """One rate limit a caller is under, as the RateLimit headers name it."""

    name: str
    rate: Rate
    bucket: Bucket


@dataclass(frozen=True, slots=True)
class Admission:
    """What counting a request found: its policies and the outcome."""

    policies: tuple[Policy, ...]
    taken: Taken

    def retry_after(self) -> int:
        """Seconds until every spent window has ended."""
        taken = self.taken
        wait = max(
            (r for r, left in zip(taken.reset_ms, taken.remaining, strict=True) if left == 0),
            default=max(taken.reset_ms),
        )
        return max(1, -(-wait // 1000))

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers)."""
        taken = self.taken
        headers = {
            "ratelimit-policy": ", ".join(
                f'"{p.name}";q={p.rate.requests};w={p.rate.window}' for p in self.policies
            ),
            "ratelimit": ", ".join(
                f'"{p.name}";r={left};t={max(0, -(-reset // 1000))}'
                for p, left, reset in zip(
                    self.policies, taken.remaining, taken.reset_ms, strict=True
                )
            ),
        }
        return headers

    def refusal(self) -> RateLimited:
        return RateLimited(
            "too many requests for this tenant or token; retry after the window ends",
            {"retry-after": str(self.retry_after())},
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """What a tenant token's requests get, decided once per CACHE_SECONDS."""

    principal: Principal
    tenant: Tenant | None
    limited: bool
    expires_at: int | None


class _Cache:
    """answers by key, each for CACHE_SECONDS of the monotonic clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            return False, None
        return True, entry[1]

    def put(self, key: str, value: Any) -> None:
        if len(self._entries) >= CACHE_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self._clock() + CACHE_SECONDS, value)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)


class Accounts:
    def __init__(
        self,
        store: Store,
        admin_token: str | None,
        clock: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self._admin_digest = digest_of(admin_token) if admin_token else None
        self._monotonic = monotonic
        self._tokens = _Cache(monotonic)
        self._tenants = _Cache(monotonic)
        self._grants: dict[bytes, tuple[float, Grant]] = {}

    # tenants ---------------------------------------------------------------------------

    async def tenant(self, name: str) -> Tenant | None:
        raw = await self.store.account_get(TENANT, name)
        if raw is not None:
            return Tenant.load(raw)
        return DEFAULT_TENANT if name == DEFAULT.name else None

    async def cached_tenant(self, name: str) -> Tenant | None:
        found, tenant = self._tenants.get(name)
        if not found:
            tenant = await self.tenant(name)
            self._tenants.put(name, tenant)
        return tenant  # type: ignore[no-any-return]

    async def require_tenant(self, name: str) -> Tenant:
        tenant = await self.tenant(Namespace(name).name)
        if tenant is None:
            raise NotFound(f"no tenant {name!r}")
        return tenant

    async def put_tenant(self, tenant: Tenant) -> bool:
        created = await self.store.account_put(TENANT, tenant.name, tenant.dump())
        self._tenants.drop(tenant.name)
        return created

    async def tenants(self) -> list[Tenant]:
        stored = [Tenant.load(raw) for _, raw in await self.store.account_list(TENANT)]
        if not any(t.name == DEFAULT.name for t in stored):
            stored.append(DEFAULT_TENANT)
        return sorted(stored, key=lambda t: t.name)

    async def delete_tenant(self, name: str) -> None:
        """The tenant, its tokens and its documents."""
        name = Namespace(name).name
        if name == DEFAULT.name:
            raise Conflict(
                "the default tenant holds the data of anonymous requests and cannot be deleted"
            )
        if await self.tenant(name) is None:
            raise NotFound(f"no tenant {name!r}")
        for token in await self.tokens(name):
            await self.store.account_delete(TOKEN, token.id)
        await self.store.drop(Namespace(name))
        await self.store.account_delete(TENANT, name)
        self._tenants.drop(name)

    # tokens ----------------------------------------------------------------------------

    async def create_token(self, request: TokenRequest) -> tuple[Token, str]:
        """A new token and its secret, shown only this once."""
        if request.tenant is not None:
            await self.require_tenant(request.tenant)
        ident, secret = new_token()
        now = self.clock()
        token = Token(
            ident,
            digest_of(secret),
            request.tenant,
            request.scopes,
            None if request.expires_in is None else now + request.expires_in * 1000,
            request.name,
            request.rate,
            now,
        )
        await self.store.account_put(TOKEN, ident, token.dump())
        return token, secret

    async def tokens(self, tenant: str | None = None) -> list[Token]:
        found = [Token.load(raw) for _, raw in await self.store.account_list(TOKEN)]
        if tenant is not None:
            found = [t for t in found if t.tenant == tenant]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    async def token(self, ident: str) -> Token:
        raw = await self.store.account_get(TOKEN, ident) if ident.isalnum() else None
        if raw is None:
            raise NotFound(f"no token {ident[:40]!r}")
        return Token.load(raw)

    async def revoke(self, ident: str) -> None:
        if not await self.store.account_delete(TOKEN, ident):
            raise NotFound(f"no token {ident[:40]!r}")

    # authentication --------------------------------------------------------------------

    # Tuning: the steady state is one cache hit (by the presented secret) that yields a
    # ready Principal, without hashing, parsing or a coroutine; a miss (first use, or after
    # CACHE_SECONDS) looks the token up in the store and hashes it once.

    def known(self, authorization: bytes | None) -> Grant | None:
        """What a tenant token's Authorization header granted, when it was seen within
        CACHE_SECONDS (and the token has not expired since), else None."""
        if authorization is None:
            return None
        entry = self._grants.get(authorization)
        if entry is None or entry[0] < self._monotonic():
            return None
        grant = entry[1]
        expires_at = grant.expires_at
        if expires_at is not None and expires_at <= self.clock():
            return None
        return grant

    def remember(self, authorization: bytes, principal: Principal, tenant: Tenant | None) -> None:
        """Keep a tenant token's grant for the requests of the next CACHE_SECONDS."""
        if len(self._grants) >= CACHE_ENTRIES:
            self._grants.clear()
        token = principal.token
        grant = Grant(
            principal,
            tenant,
            self.limited(principal, tenant),
            token.expires_at if token is not None else None,
        )
        self._grants[authorization] = (self._monotonic() + CACHE_SECONDS, grant)

    async def authenticate(self, authorization: str | None, tenant_header: str | None) -> Principal:
        """Who the Authorization header's bearer token acts for; Unauthorized otherwise."""
        if authorization is None:
            raise Unauthorized("this request needs a token: Authorization: Bearer <token>", False)
        found, grant = self._tokens.get(authorization)
        if not found:
            grant = await self._grant(authorization)
            self._tokens.put(authorization, grant)
        if grant is None:
            raise Unauthorized("the token is not valid (unknown, revoked or malformed)", True)
        token = grant.token
        if token is not None and token.expires_at is not None and token.expires_at <= self.clock():
            raise Unauthorized("the token has expired", True)
        if grant.admin:
            return Principal(self._acting_in(tenant_header), True, token=token)
        if tenant_header is not None and tenant_header.strip() != grant.namespace.name:
            raise Forbidden("a tenant token acts in its own tenant only (PathKV-Tenant)")
        return grant  # type: ignore[no-any-return]

    async def _grant(self, authorization: str) -> Principal | None:
        """What a presented Authorization header grants: a Principal (for an admin, in the
        default namespace), or None."""
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        if self._admin_digest is not None and same_digest(self._admin_digest, secret):
            return Principal(DEFAULT, admin=True)
        ident = token_id(secret)
        if ident is None:
            return None
        raw = await self.store.account_get(TOKEN, ident)
        if raw is None:
            return None
        token = Token.load(raw)
        if not same_digest(token.digest, secret):
            return None
        if token.tenant is None:
            return Principal(DEFAULT, True, token=token)
        return Principal(Namespace(token.tenant), False, token.scopes, token)

    @staticmethod
    def _acting_in(tenant_header: str | None) -> Namespace:
        if tenant_header is None or not tenant_header.strip():
            return DEFAULT
        return Namespace(tenant_header.strip())

    # rate limits -----------------------------------------------------------------------

    @staticmethod
    def limited(principal: Principal, tenant: Tenant | None) -> bool:
        """Whether a rate limit applies to the principal's requests."""
        token = principal.token
        return (tenant is not None and tenant.rate is not None and not principal.admin) or (
            token is not None and token.rate is not None
        )

    async def admit(self, principal: Principal, tenant: Tenant | None) -> Admission | None:
        """Count the request against its tenant's and its token's rate limits (the
        stricter decides: a request is refused when either is spent). None: no limit
        applies."""
        policies = []
        if tenant is not None and tenant.rate is not None and not principal.admin:
            policies.append(self._policy("tenant", f"t:{tenant.name}", tenant.rate))
        token = principal.token
        if token is not None and token.rate is not None:
            policies.append(self._policy("token", f"k:{token.id}", token.rate))
        if not policies:
            return None
        taken = await self.store.take([p.bucket for p in policies], self.clock())
        return Admission(tuple(policies), taken)

    @staticmethod
    def _policy(name: str, key: str, rate: Rate) -> Policy:
        return Policy(name, rate, Bucket(key, rate.requests, rate.window * 1000))

"""Authentication, scopes and rate limits: the stage between routing and the handler.

With PATHKV_AUTH on, every request to a route that is not open carries a bearer token
(core/tokens.py). This stage finds who it acts for (core/accounts.py, cached), sets the
request's namespace and its tenant's quota, checks the route's access against the token's
scopes, and counts the request against the rate limits that apply. With auth off the stage
is not installed: every request acts in the default tenant, as before tenants existed.
"""

from __future__ import annotations

from pathkv.core.accounts import Accounts
from pathkv.core.errors import Forbidden, Unauthorized
from pathkv.core.tenants import Tenant
from pathkv.core.tokens import READ, WRITE, Principal
from pathkv.web.request import (
    ACCESS_ADMIN,
    ACCESS_DOCUMENT,
    ACCESS_METRICS,
    ACCESS_OPEN,
    Request,
)
from pathkv.web.responses import Response

READ_METHODS = frozenset(("GET", "HEAD"))
# Routes that also take the token as ``?access_token=`` (RFC 6750, 2.3): a browser's
# EventSource cannot send an Authorization header. The access log never shows a query.
QUERY_TOKEN_ROUTES = frozenset(("/-/watch", "/-/changes"))


class Authenticator:
    def __init__(self, accounts: Accounts, metrics_auth: bool) -> None:
        self.accounts = accounts
        self._open = {ACCESS_OPEN} if metrics_auth else {ACCESS_OPEN, ACCESS_METRICS}

    async def admit(self, request: Request) -> None:
        """Raise Unauthorized, Forbidden or RateLimited, or let the request through, acting
        in its principal's namespace."""
        access = request.access
        if access in self._open:
            return
        raw = request.headers.get(b"authorization")
        accounts = self.accounts
        # Tuning: a tenant token seen within the last half second is one dictionary lookup
        # (accounts.py, Accounts.known); everything else is decided below.
        grant = accounts.known(raw) if b"pathkv-tenant" not in request.headers else None
        if grant is not None:
            principal, tenant, limited = grant.principal, grant.tenant, grant.limited
            request.principal = principal
            request.namespace = principal.namespace
            self._check(request, principal)
        else:
            principal, tenant = await self._decide(request, raw)
            limited = accounts.limited(principal, tenant)
        if tenant is not None:
            request.quota = tenant.quota
        if limited:
            admission = await accounts.admit(principal, tenant)
            if admission is not None:
                request.admission = admission
                if not admission.taken.allowed:
                    raise admission.refusal()

    async def _decide(self, request: Request, raw: bytes | None) -> tuple[Principal, Tenant | None]:
        accounts = self.accounts
        authorization = request.header(b"authorization")
        if authorization is None and request.route in QUERY_TOKEN_ROUTES:
            token = request.query.get("access_token") if request.scope.get("query_string") else None
            if token:
                authorization = "Bearer " + token
        tenant_header = request.header(b"pathkv-tenant")
        principal = await accounts.authenticate(authorization, tenant_header)
        request.principal = principal
        request.namespace = principal.namespace
        self._check(request, principal)
        tenant = await accounts.cached_tenant(principal.namespace.name)
        if tenant is None and not principal.admin:
            # The token outlived its tenant by less than the cache's life.
            raise Unauthorized("the token's tenant no longer exists", True)
        if raw is not None and tenant_header is None and not principal.admin:
            accounts.remember(raw, principal, tenant)
        return principal, tenant

    @staticmethod
    def _check(request: Request, principal: Principal) -> None:
        """Forbidden unless the principal may use the route (and the path) this way."""
        access = request.access
        if access in (ACCESS_ADMIN, ACCESS_METRICS):
            if not principal.admin:
                raise Forbidden(f"{request.route} needs an admin token")
        elif access == ACCESS_DOCUMENT:
            permission = READ if request.method in READ_METHODS else WRITE
            if not principal.may(permission, request.path):
                raise Forbidden(f"this token may not {permission} {request.path}")
        elif not principal.may_at_all(READ):
            raise Forbidden(f"{request.route} needs a token with a read scope")


def rate_headers(request: Request, response: Response) -> None:
    """A finisher: every answer to a caller under a rate limit says where it stands."""
    admission = request.admission
    if admission is None:
        return
    for name, value in admission.headers().items():
        response.headers.append((name.encode("ascii"), value.encode("ascii")))

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
from pathkv.core.tokens import READ, WRITE
from pathkv.web.request import (
    ACCESS_ADMIN,
    ACCESS_DOCUMENT,
    ACCESS_METRICS,
    ACCESS_OPEN,
    Request,
)
from pathkv.web.responses import Response

READ_METHODS = frozenset(("GET", "HEAD"))


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
        principal = await self.accounts.authenticate(
            request.header(b"authorization"), request.header(b"pathkv-tenant")
        )
        request.principal = principal
        request.namespace = principal.namespace
        if access in (ACCESS_ADMIN, ACCESS_METRICS):
            if not principal.admin:
                raise Forbidden(f"{request.route} needs an admin token")
        elif access == ACCESS_DOCUMENT:
            permission = READ if request.method in READ_METHODS else WRITE
            if not principal.may(permission, request.path):
                raise Forbidden(f"this token may not {permission} {request.path}")
        elif not principal.may_at_all(READ):
            raise Forbidden(f"{request.route} needs a token with a read scope")
        tenant = await self.accounts.cached_tenant(principal.namespace.name)
        if tenant is None and not principal.admin:
            # The token outlived its tenant by less than the cache's life.
            raise Unauthorized("the token's tenant no longer exists", True)
        if tenant is not None:
            request.quota = tenant.quota
        admission = await self.accounts.admit(principal, tenant)
        if admission is not None:
            request.admission = admission
            if not admission.taken.allowed:
                raise admission.refusal()


def rate_headers(request: Request, response: Response) -> None:
    """A finisher: every answer to a caller under a rate limit says where it stands."""
    admission = request.admission
    if admission is None:
        return
    for name, value in admission.headers().items():
        response.headers.append((name.encode("ascii"), value.encode("ascii")))

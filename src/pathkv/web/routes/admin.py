"""Tenants and tokens over HTTP (admin tokens only): ``/-/tenants`` and ``/-/tokens``."""

from __future__ import annotations

from pathkv.core.accounts import Accounts
from pathkv.core.documents import media_type
from pathkv.core.errors import Forbidden, UnsupportedMediaType
from pathkv.core.tenants import parse_tenant
from pathkv.core.tokens import parse_token_request
from pathkv.web.deadlines import Deadlines
from pathkv.web.request import Request, read_body
from pathkv.web.responses import Response, json_response

# Account bodies are small; a larger one is a mistake.
MAX_BODY = 64 * 1024
TENANTS = "/-/tenants/"
TOKENS = "/-/tokens/"


class Admin:
    def __init__(self, accounts: Accounts, deadlines: Deadlines, body_timeout: float) -> None:
        self.accounts = accounts
        self._deadlines = deadlines
        self._body_timeout = body_timeout

    @staticmethod
    def _require_admin(request: Request) -> None:
        """With auth off nobody is admin over HTTP: tenants and tokens are then managed with
        ``pathkv tenant`` and ``pathkv token`` with ``--store``."""
        if request.principal is None:
            raise Forbidden(
                "authentication is off (PATHKV_AUTH): tenants and tokens are managed over "
                "HTTP only with it on; use 'pathkv tenant' and 'pathkv token' with --store"
            )

    async def _body(self, request: Request) -> bytes:
        content_type = request.header(b"content-type")
        if content_type is not None and media_type(content_type) != "application/json":
            raise UnsupportedMediaType("send application/json", {"accept-put": "application/json"})
        return await read_body(
            request.receive, request.headers, MAX_BODY, self._deadlines, self._body_timeout
        )

    # tenants ---------------------------------------------------------------------------

    async def _tenant_view(self, name: str) -> dict[str, object]:
        tenant = await self.accounts.require_tenant(name)
        return tenant.view(await self.accounts.store.usage(tenant.namespace))

    async def list_tenants(self, request: Request) -> Response:
        self._require_admin(request)
        items = [
            tenant.view(await self.accounts.store.usage(tenant.namespace))
            for tenant in await self.accounts.tenants()
        ]
        return json_response(200, {"items": items})

    async def get_tenant(self, request: Request) -> Response:
        self._require_admin(request)
        return json_response(200, await self._tenant_view(request.path[len(TENANTS) :]))

    async def put_tenant(self, request: Request) -> Response:
        self._require_admin(request)
        tenant = parse_tenant(request.path[len(TENANTS) :], await self._body(request))
        created = await self.accounts.put_tenant(tenant)
        view = tenant.view(await self.accounts.store.usage(tenant.namespace))
        return json_response(201 if created else 200, view)

    async def delete_tenant(self, request: Request) -> Response:
        self._require_admin(request)
        await self.accounts.delete_tenant(request.path[len(TENANTS) :])
        return Response(204, content_type=None)

    # tokens ----------------------------------------------------------------------------

    async def create_token(self, request: Request) -> Response:
        self._require_admin(request)
        token, secret = await self.accounts.create_token(
            parse_token_request(await self._body(request))
        )
        view = token.view()
        view["token"] = secret
        return json_response(201, view, [(b"location", (TOKENS + token.id).encode("ascii"))])

    async def list_tokens(self, request: Request) -> Response:
        self._require_admin(request)
        tenant = request.query.get("tenant") if request.scope.get("query_string") else None
        tokens = await self.accounts.tokens(tenant)
        return json_response(200, {"items": [token.view() for token in tokens]})

    async def get_token(self, request: Request) -> Response:
        self._require_admin(request)
        return json_response(200, (await self.accounts.token(request.path[len(TOKENS) :])).view())

    async def revoke(self, request: Request) -> Response:
        self._require_admin(request)
        await self.accounts.revoke(request.path[len(TOKENS) :])
        return Response(204, content_type=None)

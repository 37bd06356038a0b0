"""The handlers of every route, grouped by what they serve; ``table`` builds the route table."""

from __future__ import annotations

from pathkv.web.request import ACCESS_ADMIN, ACCESS_DOCUMENT, ACCESS_METRICS, ACCESS_OPEN
from pathkv.web.router import Route, Router
from pathkv.web.routes.admin import Admin
from pathkv.web.routes.counter import Counter
from pathkv.web.routes.dashboard import PREFIX as DASHBOARD
from pathkv.web.routes.dashboard import Dashboard
from pathkv.web.routes.documents import Documents
from pathkv.web.routes.endpoints import Endpoints
from pathkv.web.routes.feed import Feed


def table(
    documents: Documents,
    counter: Counter,
    endpoints: Endpoints,
    admin: Admin,
    feed: Feed,
    dashboard: Dashboard,
    max_path_bytes: int,
) -> Router:
    """Every route of the service: the one place a new route is added."""
    return Router(
        exact=[
            Route.read_only("/", counter.get),
            Route.read_only("/-/healthz", endpoints.healthz, access=ACCESS_OPEN),
            Route.read_only("/-/readyz", endpoints.readyz, access=ACCESS_OPEN),
            Route.read_only("/-/metrics", endpoints.metrics, access=ACCESS_METRICS),
            Route.read_only("/-/openapi.json", endpoints.openapi, access=ACCESS_OPEN),
            Route.read_only("/-/ui", dashboard.enter, access=ACCESS_OPEN),
            Route.read_only("/-/keys", endpoints.keys, ("prefix", "after", "limit", "delimiter")),
            Route.read_only("/-/hits", endpoints.hits, ("limit",)),
            Route.read_only("/-/tenants", admin.list_tenants, access=ACCESS_ADMIN),
            Route.read_only("/-/watch", feed.watch, ("prefix", "path", "since", "access_token")),
            Route.read_only(
                "/-/changes",
                feed.changes,
                ("prefix", "path", "since", "wait", "limit", "access_token"),
            ),
            Route(
                "/-/tokens",
                {"GET": admin.list_tokens, "HEAD": admin.list_tokens, "POST": admin.create_token},
                frozenset(("tenant",)),
                "{method} is not supported on /-/tokens (POST makes a token)",
                ACCESS_ADMIN,
            ),
        ],
        prefixed=[
            (DASHBOARD, Route.read_only(DASHBOARD + "{file}", dashboard.asset, access=ACCESS_OPEN)),
            (
                "/-/tenants/",
                Route(
                    "/-/tenants/{name}",
                    {
                        "GET": admin.get_tenant,
                        "HEAD": admin.get_tenant,
                        "PUT": admin.put_tenant,
                        "DELETE": admin.delete_tenant,
                    },
                    refusal="{method} is not supported on a tenant",
                    access=ACCESS_ADMIN,
                ),
            ),
            (
                "/-/tokens/",
                Route(
                    "/-/tokens/{id}",
                    {"GET": admin.get_token, "HEAD": admin.get_token, "DELETE": admin.revoke},
                    refusal="{method} is not supported on a token (DELETE revokes it)",
                    access=ACCESS_ADMIN,
                ),
            ),
        ],
        documents=Route(
            "/{path}",
            {
                "GET": documents.read,
                "HEAD": documents.read,
                "PUT": documents.put,
                "DELETE": documents.delete,
            },
            frozenset(("meta", "ttl")),
            "{method} is not supported on documents",
            ACCESS_DOCUMENT,
        ),
        max_path_bytes=max_path_bytes,
    )

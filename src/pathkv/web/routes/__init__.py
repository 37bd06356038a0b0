"""The handlers of every route, grouped by what they serve; ``table`` builds the route table."""

from __future__ import annotations

from pathkv.web.router import Route, Router
from pathkv.web.routes.counter import Counter
from pathkv.web.routes.documents import Documents
from pathkv.web.routes.endpoints import Endpoints


def table(
    documents: Documents, counter: Counter, endpoints: Endpoints, max_path_bytes: int
) -> Router:
    """Every route of the service: the one place a new route is added."""
    return Router(
        exact=[
            Route.read_only("/", counter.get),
            Route.read_only("/-/healthz", endpoints.healthz),
            Route.read_only("/-/readyz", endpoints.readyz),
            Route.read_only("/-/metrics", endpoints.metrics),
            Route.read_only("/-/openapi.json", endpoints.openapi),
            Route.read_only("/-/keys", endpoints.keys, ("prefix", "after", "limit")),
            Route.read_only("/-/hits", endpoints.hits, ("limit",)),
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
        ),
        max_path_bytes=max_path_bytes,
    )

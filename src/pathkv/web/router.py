"""The route table: (method, route) -> handler, and the one dispatch that uses it.

A request path is normalized once (core.paths), then matched: an exact route (``/``, the
service's ``/-/...`` endpoints), else a route for a prefix under ``/-/``, else, for any
path outside ``/-/``, the document route. Each route names the query parameters it takes;
any other is refused (400), so a typo such as ``?tll=60`` is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pathkv.core.errors import BadRequest, InvalidParameter, MethodNotAllowed, NotFound
from pathkv.core.paths import is_reserved, normalize
from pathkv.web.request import ACCESS_TENANT, DOCUMENT_ROUTE, Request
from pathkv.web.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
# Methods counted under their own name in metrics; any other token counts as OTHER, so a
# client cannot grow the set of label values.
KNOWN_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"))
UNKNOWN_ROUTE = "/-/{unknown}"
READ_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Route:
    template: str
    """The route's name in metrics and logs: ``/``, ``/-/keys``, ``/{path}``."""
    handlers: Mapping[str, Handler]
    params: frozenset[str] = frozenset()
    refusal: str = "{method} is not supported here"
    """Why other methods are refused (the 405 detail; ``{method}`` is the method)."""
    access: str = ACCESS_TENANT
    """What the route asks of the caller when authentication is on (request.py)."""
    allow: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow", ", ".join(self.handlers))

    @classmethod
    def read_only(
        cls,
        template: str,
        handler: Handler,
        params: Iterable[str] = (),
        access: str = ACCESS_TENANT,
    ) -> Route:
        """A route answering GET, and HEAD with GET's headers."""
        return cls(
            template,
            {"GET": handler, "HEAD": handler},
            frozenset(params),
            # The refusal is a format string of its own ({method}): a template's {name} stays.
            template.replace("{", "{{").replace("}", "}}") + " is read-only",
            access,
        )


class Router:
    def __init__(
        self,
        exact: Iterable[Route],
        documents: Route,
        prefixed: Iterable[tuple[str, Route]] = (),
        max_path_bytes: int = 1024,
    ) -> None:
        self._exact = {route.template: route for route in exact}
        self._prefixed = list(prefixed)
        self._documents = documents
        self._max_path_bytes = max_path_bytes
        if documents.template != DOCUMENT_ROUTE:
            raise ValueError(f"the document route is {DOCUMENT_ROUTE}")

    def add(self, route: Route) -> None:
        self._exact[route.template] = route

    def match(self, method: str, path: str) -> Route:
        route = self._exact.get(path)
        if route is not None:
            return route
        if not is_reserved(path):
            return self._documents
        for prefix, candidate in self._prefixed:
            if path.startswith(prefix):
                return candidate
        if method in READ_METHODS:
            raise NotFound(f"{path} is not an endpoint of this service")
        raise MethodNotAllowed(
            f"{path} is reserved for the service; documents live outside /-/",
            headers={"allow": "GET, HEAD"},
        )

    def resolve(self, request: Request) -> Handler:
        """Check Host, normalize the path, route, check the query: the handler to call."""
        headers = request.headers
        # The HTTP server reports a missing Host as an empty one.
        if not headers.get(b"host") or (
            len(headers) != len(request.scope["headers"]) and request.count_header(b"host") != 1
        ):
            raise BadRequest("a request must carry exactly one Host header (RFC 9112, 3.2)")
        request.path = path = normalize(request.target, self._max_path_bytes)
        try:
            route = self.match(request.method, path)
        except (NotFound, MethodNotAllowed):
            request.route = UNKNOWN_ROUTE
            raise
        request.route = route.template
        request.access = route.access
        handler = route.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(
                route.refusal.format(method=request.method[:32]), headers={"allow": route.allow}
            )
        if request.scope.get("query_string"):
            unknown = request.query.keys() - route.params
            if unknown:
                name = sorted(unknown)[0]
                raise InvalidParameter(
                    f"unknown query parameter {name[:64]!r} for {route.template}"
                    + (
                        f" (it takes {', '.join(sorted(route.params))})"
                        if route.params
                        else " (it takes none)"
                    )
                )
        return handler


__all__ = ["KNOWN_METHODS", "Handler", "Route", "Router"]

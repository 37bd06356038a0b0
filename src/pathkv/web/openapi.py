"""The OpenAPI 3.1 description served at /-/openapi.json."""

from __future__ import annotations

from typing import Any

from pathkv import __version__
from pathkv.core.service import MAX_PAGE

PROBLEM_TYPE = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(
    schema: dict[str, Any], description: str, headers: list[str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        out["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in headers}
    return out


def _problems(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Invalid path, query parameter, header or document.",
        404: "No live document (or endpoint) at this path.",
        405: "Method not allowed here.",
        408: "The body did not arrive in time.",
        401: "Authentication is on and no valid token was sent.",
        403: "The token may not do this (or, auth off: tenants are managed on the store).",
        409: "The default tenant cannot be deleted.",
        410: "The cursor is older than the changes the feed keeps.",
        412: "If-Match / If-None-Match did not hold; nothing changed.",
        413: "Body over the size limit (or the tenant's quota.document_bytes).",
        414: "Path over the length limit.",
        415: "Unsupported content type.",
        429: "The tenant's or token's rate limit is spent; see Retry-After.",
        503: "Store unavailable.",
        507: "The write would exceed the tenant's quota (documents or bytes); nothing stored.",
        504: "Store did not answer in time.",
    }
    return {
        str(s): {"description": reasons[s], "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}}}
        for s in statuses
    }


DOC_HEADERS = ["ETag", "Last-Modified", "X-TTL", "Cache-Control"]
PATH_PARAM = {
    "name": "path",
    "in": "path",
    "required": True,
    "description": "Document path; may contain '/'. Normalized: percent-decoded, empty and '.' "
    "segments dropped, '..' resolved, no control characters.",
    "schema": {"type": "string", "minLength": 1},
}


ETAG_LIST = r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'


def _header(name: str, description: str, pattern: str = ETAG_LIST) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _date_header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description + " An HTTP-date; any other value is ignored.",
        "schema": {"type": "string"},
    }


# For the stateful phase of API fuzzers: what a created document's path leads to.
DOCUMENT_LINKS = {
    operation: {"operationId": operation, "parameters": {"path": "$request.path.path"}}
    for operation in ("getDocument", "headDocument", "putDocument", "deleteDocument")
}


def _limit(default: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": default},
    }


def spec() -> dict[str, Any]:
    read = {
        "parameters": [
            PATH_PARAM,
            {
                "name": "meta",
                "in": "query",
                "required": False,
                "description": "1: answer the metadata view instead of the document (not a hit).",
                "schema": {"type": "string", "enum": ["", "0", "1", "true", "false"]},
            },
            _header("If-None-Match", "Entity tags; 304 when the current one is listed."),
            _date_header("If-Modified-Since", "304 unless written after; If-None-Match wins."),
        ],
        "responses": {
            "200": _json(
                _ref("Document"), "The stored document (or with meta=1, Meta).", DOC_HEADERS
            ),
            "304": {"description": "Not modified."},
            **_problems(400, 401, 403, 404, 414, 429, 503, 504),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pathkv",
            "version": __version__,
            "description": "JSON documents at any URL path.",
        },
        "paths": {
            "/": {
                "get": {
                    "operationId": "count",
                    "summary": "Increment and return the service counter.",
                    "responses": {
                        "200": _json(_ref("Count"), "The new count."),
                        **_problems(401, 403, 429, 503, 504),
                    },
                }
            },
            "/{path}": {
                "get": {
                    "operationId": "getDocument",
                    "summary": "Read a document (one hit).",
                    **read,
                },
                "head": {
                    "operationId": "headDocument",
                    "summary": "GET's headers, no hit.",
                    **read,
                },
                "put": {
                    "operationId": "putDocument",
                    "summary": "Create or replace a document.",
                    "parameters": [
                        PATH_PARAM,
                        {
                            "name": "ttl",
                            "in": "query",
                            "required": False,
                            "description": "Lifetime in seconds (default one year).",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                        _header("If-Match", "Write only if the current ETag is listed, or *."),
                        _header("If-None-Match", "'*': create only.", r"^\s*\*\s*$"),
                        _date_header("If-Unmodified-Since", "412 if written after; If-Match wins."),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("Document")},
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": _json(_ref("Meta"), "Replaced.", DOC_HEADERS),
                        "201": {
                            **_json(_ref("Meta"), "Created.", [*DOC_HEADERS, "Location"]),
                            "links": DOCUMENT_LINKS,
                        },
                        **_problems(
                            400, 401, 403, 405, 408, 412, 413, 414, 415, 429, 503, 504, 507
                        ),
                    },
                },
                "delete": {
                    "operationId": "deleteDocument",
                    "summary": "Delete a document.",
                    "parameters": [
                        PATH_PARAM,
                        _header("If-Match", "Delete only if the ETag is listed."),
                        _date_header("If-Unmodified-Since", "412 if written after; If-Match wins."),
                    ],
                    "responses": {
                        "204": {"description": "Deleted."},
                        **_problems(400, 401, 403, 404, 405, 412, 414, 429, 503, 504),
                    },
                },
            },
            "/-/keys": {
                "get": {
                    "operationId": "listKeys",
                    "summary": "List live paths in lexicographic order.",
                    "parameters": [
                        {
                            "name": "prefix",
                            "in": "query",
                            "required": False,
                            "description": "Paths starting with this (it starts with '/').",
                            "schema": {"type": "string", "default": "/", "pattern": "^/"},
                        },
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": "The 'next' cursor of the previous page.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "delimiter",
                            "in": "query",
                            "required": False,
                            "description": (
                                "List one level: paths directly under the prefix in 'items', "
                                "and in 'prefixes' each child folder (a deeper path up to and "
                                "including the next delimiter), in one order and one paging."
                            ),
                            "schema": {"type": "string", "minLength": 1, "maxLength": 16},
                        },
                        _limit(100),
                    ],
                    "responses": {
                        "200": _json(_ref("KeysPage"), "One page of paths."),
                        **_problems(400, 401, 403, 429, 503, 504),
                    },
                }
            },
            "/-/hits": {
                "get": {
                    "operationId": "topHits",
                    "summary": "Paths with the most hits.",
                    "parameters": [_limit(10)],
                    "responses": {
                        "200": _json(_ref("Hits"), "Most hits first."),
                        **_problems(400, 401, 403, 429, 503, 504),
                    },
                }
            },
            "/-/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness.",
                    "responses": {"200": _json(_ref("Status"), "Alive.")},
                }
            },
            "/-/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "Readiness: the store answers.",
                    "responses": {
                        "200": _json(_ref("Status"), "Ready."),
                        "503": {
                            "description": "Not ready.",
                            "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}},
                        },
                    },
                }
            },
            "/-/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics.",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/-/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
                }
            },
            "/-/ui/": {
                "get": {
                    "operationId": "dashboard",
                    "summary": "The dashboard: a page, served with its script and style "
                    "(/-/ui/app.js, /-/ui/app.css) under a Content-Security-Policy that "
                    "allows only them.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The page.",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        },
                        "304": {"description": "Not modified (If-None-Match)."},
                    },
                }
            },
            **_accounts(),
            **_feed(),
        },
        "security": [{"bearer": []}, {}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A pathkv token (pkv_<id>_<secret>), or the admin token. "
                    "Needed when PATHKV_AUTH is on.",
                }
            },
            "schemas": {
                **ACCOUNT_SCHEMAS,
                "Document": {
                    "type": "object",
                    "description": "Any JSON object.",
                    "additionalProperties": True,
                },
                "Meta": {
                    "type": "object",
                    "required": [
                        "path",
                        "data",
                        "last_updated",
                        "ttl",
                        "hits",
                        "version",
                        "etag",
                    ],
                    "properties": {
                        "path": {"type": "string"},
                        "data": _ref("Document"),
                        "last_updated": {"type": "integer", "description": "Unix seconds."},
                        "ttl": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Seconds left to live.",
                        },
                        "hits": {"type": "integer", "minimum": 0},
                        "version": {"type": "integer", "minimum": 1},
                        "etag": {"type": "string", "description": "As in the ETag header."},
                    },
                },
                "Count": {
                    "type": "object",
                    "required": ["count"],
                    "properties": {"count": {"type": "integer", "minimum": 1}},
                },
                "KeysPage": {
                    "type": "object",
                    "required": ["items", "next"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path"],
                                "properties": {"path": {"type": "string"}},
                            },
                        },
                        "prefixes": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "With a delimiter: the child folders on this page.",
                        },
                        "next": {"type": ["string", "null"]},
                    },
                },
                "Hits": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path", "hits"],
                                "properties": {
                                    "path": {"type": "string"},
                                    "hits": {"type": "integer", "minimum": 1},
                                },
                            },
                        }
                    },
                },
                "Status": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string"}},
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                },
            },
            "headers": {
                "ETag": {"schema": {"type": "string"}, "description": "Changes on every write."},
                "Last-Modified": {"schema": {"type": "string"}},
                "Cache-Control": {
                    "schema": {"type": "string"},
                    "description": "no-cache on documents (revalidate with the ETag), "
                    "no-store on every other answer.",
                },
                "X-TTL": {"schema": {"type": "integer"}, "description": "Seconds left to live."},
                "Location": {"schema": {"type": "string"}},
            },
        },
    }


NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
}
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
ADMIN = (400, 401, 403, 429, 503, 504)
_COUNT = {"type": ["integer", "null"], "minimum": 0}
_RATE = {
    "type": ["object", "null"],
    "required": ["requests", "window"],
    "properties": {
        "requests": {"type": "integer", "minimum": 1},
        "window": {"type": "integer", "minimum": 1, "maximum": 86400, "description": "Seconds."},
    },
    "additionalProperties": False,
}
_SCOPES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["prefix", "allow"],
        "properties": {
            "prefix": {"type": "string", "pattern": "^/"},
            "allow": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": ["read", "write"]},
            },
        },
        "additionalProperties": False,
    },
}
ACCOUNT_SCHEMAS: dict[str, Any] = {
    "TenantSpec": {
        "type": "object",
        "properties": {
            "quota": {
                "type": ["object", "null"],
                "properties": {"documents": _COUNT, "bytes": _COUNT, "document_bytes": _COUNT},
                "additionalProperties": False,
            },
            "rate": _RATE,
        },
        "additionalProperties": False,
    },
    "Tenant": {
        "type": "object",
        "required": ["name", "quota", "rate", "usage"],
        "properties": {
            "name": {"type": "string"},
            "quota": {"type": "object"},
            "rate": _RATE,
            "usage": {
                "type": "object",
                "required": ["documents", "bytes"],
                "properties": {
                    "documents": {"type": "integer", "minimum": 0},
                    "bytes": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
    "TokenRequest": {
        "type": "object",
        "properties": {
            "tenant": {"type": "string"},
            "admin": {"type": "boolean"},
            "scopes": _SCOPES,
            "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "rate": _RATE,
        },
        "additionalProperties": False,
    },
    "Token": {
        "type": "object",
        "required": ["id", "tenant", "admin", "scopes", "expires_at", "name"],
        "properties": {
            "id": {"type": "string"},
            "token": {"type": "string", "description": "The secret: in the 201 answer only."},
            "tenant": {"type": ["string", "null"]},
            "admin": {"type": "boolean"},
            "scopes": {"type": "array"},
            "expires_at": {"type": ["integer", "null"], "description": "Unix seconds."},
            "name": {"type": ["string", "null"]},
            "rate": _RATE,
            "created_at": {"type": "integer"},
        },
    },
}


def _items(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}},
    }


def _accounts() -> dict[str, Any]:
    """Tenants and tokens: admin tokens only (with auth off, 403)."""
    body = {"required": True, "content": {"application/json": {"schema": {}}}}
    return {
        "/-/tenants": {
            "get": {
                "operationId": "listTenants",
                "responses": {"200": _json(_items("Tenant"), "Every tenant."), **_problems(*ADMIN)},
            }
        },
        "/-/tenants/{name}": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getTenant",
                "responses": {
                    "200": _json(_ref("Tenant"), "The tenant."),
                    **_problems(*ADMIN, 404),
                },
            },
            "put": {
                "operationId": "putTenant",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("TenantSpec")}},
                },
                "responses": {
                    "200": _json(_ref("Tenant"), "Replaced."),
                    "201": _json(_ref("Tenant"), "Created."),
                    **_problems(*ADMIN, 408, 413, 415),
                },
            },
            "delete": {
                "operationId": "deleteTenant",
                "responses": {
                    "204": {"description": "The tenant, its tokens and documents are gone."},
                    **_problems(*ADMIN, 404, 409),
                },
            },
        },
        "/-/tokens": {
            "get": {
                "operationId": "listTokens",
                "parameters": [
                    {
                        "name": "tenant",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json(_items("Token"), "Tokens, without secrets."),
                    **_problems(*ADMIN),
                },
            },
            "post": {
                "operationId": "createToken",
                "requestBody": {
                    **body,
                    "content": {"application/json": {"schema": _ref("TokenRequest")}},
                },
                "responses": {
                    "201": _json(_ref("Token"), "The token; its secret is shown only here."),
                    **_problems(*ADMIN, 404, 408, 413, 415),
                },
            },
        },
        "/-/tokens/{id}": {
            "parameters": [ID_PARAM],
            "get": {
                "operationId": "getToken",
                "responses": {
                    "200": _json(_ref("Token"), "The token, without its secret."),
                    **_problems(*ADMIN, 404),
                },
            },
            "delete": {
                "operationId": "revokeToken",
                "responses": {"204": {"description": "Revoked."}, **_problems(*ADMIN, 404)},
            },
        },
    }


def _selection() -> list[dict[str, Any]]:
    return [
        {
            "name": "prefix",
            "in": "query",
            "required": False,
            "description": "Paths starting with this (default /).",
            "schema": {"type": "string", "pattern": "^/"},
        },
        {
            "name": "path",
            "in": "query",
            "required": False,
            "description": "One path (instead of prefix); it may not exist yet.",
            "schema": {"type": "string", "pattern": "^/"},
        },
        {
            "name": "since",
            "in": "query",
            "required": False,
            "description": "A cursor: changes after it.",
            "schema": {"type": "string"},
        },
        {
            "name": "access_token",
            "in": "query",
            "required": False,
            "description": "The token, for clients that cannot send headers (EventSource).",
            "schema": {"type": "string"},
        },
    ]


CHANGE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "path", "version", "etag", "last_updated", "expires_at"],
    "properties": {
        "id": {"type": "string", "description": "The change's cursor."},
        "event": {"type": "string", "enum": ["put", "delete", "expire"]},
        "path": {"type": "string"},
        "version": {"type": ["integer", "null"]},
        "etag": {"type": ["string", "null"]},
        "last_updated": {"type": ["integer", "null"], "description": "Unix seconds."},
        "expires_at": {"type": ["integer", "null"], "description": "Unix seconds."},
        "data": {"type": "object", "description": "The document (put only)."},
    },
}


def _feed() -> dict[str, Any]:
    """The change feed: SSE, and long-poll."""
    return {
        "/-/watch": {
            "get": {
                "operationId": "watch",
                "summary": "Follow changes as Server-Sent Events (resume with Last-Event-ID).",
                "parameters": [
                    *_selection(),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "Events: put, delete, expire (with id), reset (none).",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_problems(400, 401, 403, 429, 503, 504),
                },
            }
        },
        "/-/changes": {
            "get": {
                "operationId": "changes",
                "summary": "Changes after a cursor, waiting up to wait seconds for some.",
                "parameters": [
                    *_selection(),
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 60},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items", "next"],
                            "properties": {
                                "items": {"type": "array", "items": CHANGE_ITEM},
                                "next": {"type": "string"},
                            },
                        },
                        "Changes, and the cursor to ask from next.",
                    ),
                    **_problems(400, 401, 403, 410, 429, 503, 504),
                },
            }
        },
    }

"""Cross-cutting concerns, one place each, wrapped around every handler.

A wrapper takes the next handler and returns a handler; ``compose`` applies them outermost
first. Observers run after the answer has been sent (a stream included), with what was
sent: metrics and the access log are observers (see metrics.py and logs.py).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence

from pathkv.web.request import ClientGone, Request
from pathkv.web.responses import (
    CLIENT_GONE,
    Response,
    as_problem,
    log_failure,
    problem_response,
)
from pathkv.web.router import Handler

Wrapper = Callable[[Handler], Handler]
Observer = Callable[[Request, Response, int], None]


def compose(handler: Handler, wrappers: Sequence[Wrapper]) -> Handler:
    for wrap in reversed(wrappers):
        handler = wrap(handler)
    return handler


def request_ids(next_handler: Handler) -> Handler:
    """Every request gets an id (the client's X-Request-ID when sane), echoed in the answer.

    Generated ids are a random per-process prefix and a counter (cheaper than uuid4) and so
    unique across processes.
    """
    prefix = os.urandom(8).hex()
    counter = itertools.count(1)

    async def handle(request: Request) -> Response:
        given = request.headers.get(b"x-request-id")
        if given and len(given) <= 128 and given.isascii() and given.decode("ascii").isprintable():
            request.request_id = given.decode("ascii")
        else:
            request.request_id = f"{prefix}{next(counter):016x}"
        response = await next_handler(request)
        response.headers.append((b"x-request-id", request.request_id.encode("ascii")))
        return response

    return handle


def problems(next_handler: Handler) -> Handler:
    """Every exception becomes an answer: a problem+json, or none if the client left."""

    async def handle(request: Request) -> Response:
        try:
            return await next_handler(request)
        except ClientGone:
            return Response(CLIENT_GONE, sent=False)
        except Exception as exc:
            return error_response(exc, request)

    return handle


def error_response(exc: Exception, request: Request) -> Response:
    """The problem+json answer for exc, logged when it is the server's fault.

    Kept out of the handler's frame so that no local variable of it refers to the exception:
    exception -> traceback -> frame -> exception is a reference cycle that only the garbage
    collector can free, and 404s are common.
    """
    problem = as_problem(exc)
    if problem.status >= 500:
        log_failure(exc, problem, request.request_id)
    return problem_response(problem, request.raw_path.decode("latin-1")[:2048], request.request_id)


__all__ = ["Observer", "Wrapper", "compose", "problems", "request_ids"]

"""Cross-cutting concerns, one place each, in the stages of a request (see App.handle).

- Guards look at a request before its handler and may answer it themselves or refuse it
  (raise a Problem): CORS preflights and cross-site refusals, and later authentication.
- Wrappers go around every handler when a concern needs to await (a wrapper takes the next
  handler and returns a handler; ``compose`` applies them outermost first).
- Every exception a guard, wrapper or handler raises becomes a problem+json answer, in one
  place: ``error_response``.
- Finishers decorate every answer just before it is sent: the request id's echo, the cache
  policy, CORS headers.
- Observers run after the answer has been sent (a stream's once it has ended), with what was
  sent: metrics and the access log (see metrics.py and logs.py).

Tuning: guards and finishers are plain calls rather than wrappers because every wrapper is
a coroutine frame per request: measured in instructions of an in-process GET, the error
wrapper and the CORS wrapper cost 3.5% of it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence

from pathkv.web.request import Request
from pathkv.web.responses import (
    Response,
    as_problem,
    log_failure,
    problem_response,
)
from pathkv.web.router import Handler

Wrapper = Callable[[Handler], Handler]
Observer = Callable[[Request, Response, int], None]
Guard = Callable[[Request], Response | None]
Finisher = Callable[[Request, Response], None]


def compose(handler: Handler, wrappers: Sequence[Wrapper]) -> Handler:
    for wrap in reversed(wrappers):
        handler = wrap(handler)
    return handler


class RequestIds:
    """Every request gets an id (the client's X-Request-ID when sane), echoed in the answer.

    Generated ids are a random per-process prefix and a counter (cheaper than uuid4) and so
    unique across processes.
    """

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def assign(self, request: Request) -> None:
        given = request.headers.get(b"x-request-id")
        if given and len(given) <= 128 and given.isascii() and given.decode("ascii").isprintable():
            request.request_id = given.decode("ascii")
        else:
            request.request_id = f"{self._prefix}{next(self._counter):016x}"

    @staticmethod
    def echo(request: Request, response: Response) -> None:
        """The finisher that returns the id to the client."""
        response.headers.append((b"x-request-id", request.request_id.encode("ascii")))


NO_STORE = (b"cache-control", b"no-store")


def cache_policy(request: Request, response: Response) -> None:
    """Nothing pathkv answers may be served from a cache without asking it: documents say
    ``no-cache`` themselves (revalidate with their ETag, and the hit is counted), every
    other answer (the counter, listings, rankings, metrics, writes, errors) is ``no-store``."""
    if not response.cacheable:
        response.headers.append(NO_STORE)


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


__all__ = ["Finisher", "Guard", "Observer", "RequestIds", "Wrapper", "cache_policy", "compose"]

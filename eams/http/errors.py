"""What the routes refuse, and the one place that turns it into an HTTP answer.

Routes raise errors of the project; :func:`register` maps each family to its status code,
and the answer is ``{"detail": message}`` with the message as the route wrote it:

EamsError                          (events.errors, the root of every project error)
 ├── RequestError                  a request the API refuses (this module)
 │    ├── NotSignedInError         401  no credentials, or not valid ones
 │    ├── ForbiddenError           403  the role or the caller's regions do not allow it
 │    ├── NotFoundError            404  no such alert, silence, run, region …
 │    ├── ConflictError            409  the request no longer fits the state
 │    ├── PayloadTooLargeError     413  a batch over its number of lines
 │    ├── UnsupportedMediaError    415  a content type the route does not read
 │    ├── InvalidRequestError      422  a route's own check of its input failed
 │    └── UnavailableError         503  a part of the worker is not running (yet)
 ├── CommandRejectedError          409  (playbooks.errors: the run refuses the command)
 ├── UnknownPlaybookError          404  (playbooks.errors)
 └── EventsNotAcknowledgedError    503  (streams.outbox: held and retried, not yet in the log)

The bounds of the edge (:mod:`eams.http.limits`: body size, sign-in backoff, live-stream
slots) answer with FastAPI's ``HTTPException`` themselves: a body is read inside FastAPI's
parser, which lets no other exception through (it would answer 400).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from events.errors import EamsError
from playbooks.errors import CommandRejectedError, UnknownPlaybookError
from streams.outbox import EventsNotAcknowledgedError


class RequestError(EamsError):
    """A request the API refuses; ``status`` is its HTTP status code."""

    status = 400


class NotSignedInError(RequestError):
    """No credentials, or none that are valid: the message says how to sign in."""

    status = 401


class ForbiddenError(RequestError):
    """The caller's role or regions do not allow this request."""

    status = 403


class NotFoundError(RequestError):
    """The thing a request names does not exist (or lies outside the caller's regions)."""

    status = 404


class ConflictError(RequestError):
    """The request no longer fits the state it acts on (resolved already, rebuilding …)."""

    status = 409


class PayloadTooLargeError(RequestError):
    """A request carries more than the API takes at once."""

    status = 413


class UnsupportedMediaError(RequestError):
    """The body's content type is not one the route reads."""

    status = 415


class InvalidRequestError(RequestError):
    """A route's own check of its input failed: the message names the field."""

    status = 422


class UnavailableError(RequestError):
    """A part of the worker this request needs is not running, or not yet."""

    status = 503


#: Errors of other packages that routes let through, and their status codes.
DOMAIN_STATUS: dict[type[EamsError], int] = {
    CommandRejectedError: 409,
    UnknownPlaybookError: 404,
    EventsNotAcknowledgedError: 503,
}


def status_of(exc: EamsError) -> int:
    """The HTTP status code of an error a route raised (500 for one not mapped here)."""
    if isinstance(exc, RequestError):
        return exc.status
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EamsError)
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


def register(app: FastAPI) -> None:
    """Make ``app`` answer the errors above with their status code and message; any other
    error stays a 500 that shows nothing of it."""
    kinds: tuple[type[Exception], ...] = (RequestError, *DOMAIN_STATUS)
    for kind in kinds:
        app.add_exception_handler(kind, _answer)

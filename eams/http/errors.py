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
 ├── CommandRejectedError          by its code: not_found 404, forbidden 403, conflict 409,
 │                                  invalid 422 (events.errors: an aggregate refused a command;
 │                                  playbooks.errors' is one of them)
 ├── CommandTimeoutError           504  (streams.errors: no command handler answered in time)
 ├── UnknownPlaybookError          404  (playbooks.errors)
 └── EventsNotAcknowledgedError    503  (streams.writer: held and retried, not yet in the log)

The bounds of the edge (:mod:`eams.http.limits`: body size, sign-in backoff, live-stream
slots) answer with FastAPI's ``HTTPException`` themselves: a body is read inside FastAPI's
parser, which lets no other exception through (it would answer 400).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from events.errors import CommandRejectedError, EamsError
from playbooks.errors import UnknownPlaybookError
from streams.errors import CommandTimeoutError, EventsNotAcknowledgedError


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
    CommandTimeoutError: 504,
    UnknownPlaybookError: 404,
    EventsNotAcknowledgedError: 503,
}


#: The status code of each code of a refused command.
REJECTION_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}


def status_of(exc: EamsError) -> int:
    """The HTTP status code of an error a route raised (500 for one not mapped here)."""
    if isinstance(exc, RequestError):
        return exc.status
    if isinstance(exc, CommandRejectedError):
        return REJECTION_STATUS.get(exc.code, 409)
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

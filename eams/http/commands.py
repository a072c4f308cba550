"""Routes that change an aggregate send a command and answer with its outcome.

The route decides nothing: it names the command, its aggregate and payload; the actor and
the regions come from the caller's session (:class:`eams.auth.Principal`), and the command
handler (:mod:`streams.commands`) decides it against the aggregate's state. A refusal comes
back as :class:`~events.errors.CommandRejectedError`, which :mod:`eams.http.errors` turns
into 404, 403, 409 or 422 by its code.

An ``Idempotency-Key`` header makes a retry harmless: the same caller and key give the same
command id, and a command id is decided at most once (the retry is answered with the first
outcome's version, ``duplicate``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from eams.auth import Principal
from eams.host import Host
from eams.http.errors import InvalidRequestError, NotFoundError
from events.commands import Outcome

__all__ = ["IDEMPOTENCY_HEADER", "derived_id", "submit"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
_NAMESPACE = uuid.UUID("6a1f0c52-3e8d-4b7a-9c61-2d5e8f0a4b13")


def _command_id(request: Request | None, who: Principal) -> uuid.UUID | None:
    key = request.headers.get(IDEMPOTENCY_HEADER) if request is not None else None
    if key is None:
        return None
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise InvalidRequestError(
            f"{IDEMPOTENCY_HEADER}: give 1 to 128 printable characters (a UUID is best)"
        )
    return uuid.uuid5(_NAMESPACE, f"{who.kind}:{who.name}:{key}")


def derived_id(request: Request | None, who: Principal, purpose: str) -> uuid.UUID:
    """An id a route makes for what a command creates (a post's, an application's): derived
    from the caller's ``Idempotency-Key`` when there is one, so a retry names the same
    thing; random otherwise."""
    command = _command_id(request, who)
    return uuid.uuid5(command, purpose) if command is not None else uuid.uuid4()


async def submit(
    host: Host,
    who: Principal,
    command_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
    *,
    actor: str,
    request: Request | None = None,
) -> Outcome:
    """Send one command for the caller and wait for its outcome (raises when refused).
    An aggregate id no aggregate can have (a path segment with spaces, control characters
    …) answers 404 like an unknown one, without a command."""
    command_id = _command_id(request, who)
    try:
        command = host.commands.command(
            command_type,
            aggregate_id,
            actor=actor,
            payload={k: v for k, v in payload.items() if v is not None},
            scope=who.regions,
            command_id=command_id,
        )
    except ValidationError as exc:
        if any(e["loc"] == ("aggregate_id",) for e in exc.errors()):
            kind = command_type.split(".", 1)[0]
            raise NotFoundError(f"no {kind} {aggregate_id!r}") from None
        raise
    return await host.commands.submit(command)

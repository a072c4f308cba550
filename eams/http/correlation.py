"""Every HTTP request has a correlation id: the caller's ``X-Correlation-ID`` when it is a
UUID, a new one otherwise. It is answered in the same header, bound to the request's log
records (:mod:`eams.logs`) and carried by every command the request sends
(:data:`streams.context.CORRELATION`), so the command handler's records about those
commands, and the events they append (``correlation_id`` of the envelope), name it too.

The id travels into the event log, whose ``correlation_id`` is a UUID: a caller's id that
is not one (or holds anything but letters, digits and hyphens, or is longer than 64
characters) is not taken; the request gets a new id, which the answer names.
"""

from __future__ import annotations

import re
import uuid

import structlog

from eams.http.limits import ASGIApp, Message, Receive, Scope, Send
from streams.context import CORRELATION

__all__ = ["HEADER", "Correlation", "correlation_of"]

HEADER = "X-Correlation-ID"
_HEADER_KEY = HEADER.lower().encode()
_SAFE = re.compile(rb"[A-Za-z0-9-]{1,64}")


def correlation_of(value: bytes | None) -> uuid.UUID:
    """The correlation id of a request whose header holds ``value`` (None: none sent)."""
    if value is not None and _SAFE.fullmatch(value):
        try:
            return uuid.UUID(value.decode())
        except ValueError:
            pass
    return uuid.uuid4()


class Correlation:
    """ASGI middleware: the request's correlation id bound while it is answered and
    named in the answer's ``X-Correlation-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope.get("headers") or () if k == _HEADER_KEY), None)
        correlation = correlation_of(sent)
        header = (_HEADER_KEY, str(correlation).encode())

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers") or () if h[0] != _HEADER_KEY]
                message["headers"] = [*headers, header]
            await send(message)

        token = CORRELATION.set(correlation)
        try:
            with structlog.contextvars.bound_contextvars(correlation_id=str(correlation)):
                await self.app(scope, receive, named)
        finally:
            CORRELATION.reset(token)

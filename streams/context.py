"""What a log line says it is about: the ids the stream loops and the API bind to the
current context (:mod:`structlog.contextvars`), which every record logged meanwhile
carries (:mod:`eams.logs` renders them).

- An HTTP request binds its ``correlation_id`` (:data:`CORRELATION`, set by
  :mod:`eams.http.correlation`); a command sent meanwhile carries it
  (:meth:`streams.commands.bus.CommandBus.command`), and the command handler binds it
  again, with ``command_id`` and ``command_type``, while it decides that command
  (:func:`deciding`).
- A stream loop that handles 10^5 events a second binds per *batch*, never per event:
  :func:`bind_batch` names the topic's partitions and offsets in hand. Only an error path
  that is about one event binds its ``event_id`` and ``event_type`` (:func:`about_event`).

Nothing personal is bound: ids, types, offsets.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import structlog

from events.commands import Command, Outcome

__all__ = ["CORRELATION", "about_event", "batch_span", "bind_batch", "deciding"]

log = logging.getLogger("streams.commands.handler")

#: The correlation id of the HTTP request being answered (None outside one).
CORRELATION: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "eams_correlation_id", default=None
)

S = TypeVar("S")
D = TypeVar("D", bound=tuple[Outcome, Any, Any])


class _Record(Protocol):
    @property
    def offset(self) -> int: ...


def batch_span(topic: str, fetched: Mapping[Any, Sequence[_Record]]) -> str:
    """``topic p:first-last …`` of a fetch keyed by partition (a ``TopicPartition`` or its
    number): per partition, not per record."""
    parts = []
    for tp, records in fetched.items():
        if records:
            partition = getattr(tp, "partition", tp)
            parts.append(f"{partition}:{records[0].offset}-{records[-1].offset}")
    return f"{topic} {' '.join(parts)}"


def bind_batch(topic: str, fetched: Mapping[Any, Sequence[_Record]]) -> None:
    """Bind ``batch`` to the loop's context (its task): what it logs until the next batch
    says which offsets it had in hand. A few microseconds a batch."""
    structlog.contextvars.bind_contextvars(batch=batch_span(topic, fetched))


@contextmanager
def about_event(event_id: Any, event_type: str | None = None) -> Iterator[None]:
    """Within: every record carries ``event_id`` (and ``event_type``). For error paths."""
    with structlog.contextvars.bound_contextvars(event_id=str(event_id), event_type=event_type):
        yield


def deciding(decide: Callable[[S, Any, Any, Command], D]) -> Callable[[S, Any, Any, Command], D]:
    """Decorates the command handler's ``_decide(aggregate, folded, command)``: while a
    command is decided, records carry its ``command_id``, ``command_type`` and
    ``correlation_id``; the decision is logged (INFO: its outcome and the version, nothing
    of its payload), and so is a decision that failed, with the command's ids."""

    @functools.wraps(decide)
    def wrapper(self: S, aggregate: Any, folded: Any, command: Command) -> D:
        # tokens, not bound_contextvars(): that reads the whole context first (2 us more a
        # command); the ids are bound as they are (the renderer writes a UUID as its text)
        tokens = structlog.contextvars.bind_contextvars(
            command_id=command.command_id,
            command_type=command.command_type,
            correlation_id=command.correlation_id,
        )
        try:
            decided = decide(self, aggregate, folded, command)
            if log.isEnabledFor(logging.INFO):
                outcome = decided[0]
                verdict = "duplicate" if outcome.duplicate else outcome.code or "accepted"
                log.info("command decided: %s at version %s", verdict, outcome.version)
            return decided
        except Exception:
            log.exception("deciding the command failed")
            raise
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    return wrapper

"""Commands as data, and the contract every aggregate keeps.

A command asks one aggregate (an alert, a silence, a playbook run …) to change. It travels
on ``<ns>.commands`` keyed by its aggregate id, so every command of one aggregate reaches the
same handler in log order (:mod:`streams.commands`), which decides it against the state it
folded from ``<ns>.events``::

    caller ── Command ──► <ns>.commands ──► handler: state = fold(apply, events of the key)
                                                     changes = decide(state, command, now)
                                                     append changes as events (causation =
                                                     command id), apply them
    caller ◄── Outcome ── <ns>.commands.outcomes ◄──┘

An aggregate is pure: ``apply`` and ``decide`` read only their arguments, so they are unit
tested without a broker, and two commands racing on one aggregate are decided one after the
other against the state the first left behind (one wins, the other is told why).

A retried command (same ``command_id``) changes nothing: the handler remembers the command
ids whose events it folded (the events' ``causation_id``) and answers the first outcome
again. The events a command produces have ids derived from the command id, so even a
decision repeated after a crash appends events every consumer already absorbs by id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from events.envelope import Envelope
from events.errors import CommandRejectedError

__all__ = [
    "Aggregate",
    "Change",
    "Command",
    "Folded",
    "Outcome",
    "event_id_for",
    "parse_payload",
]

_NAMESPACE = uuid.UUID("0f3b5a7e-9d1c-4a8b-b6e2-7c4d1e2f3a90")
_IDENT = r"^[A-Za-z0-9_.:\-]+$"


class Command(BaseModel):
    """One request to change one aggregate, with who sent it and from where.

    ``command_type`` is ``<aggregate kind>.<verb>`` (``alert.acknowledge``); ``actor`` and
    ``scope`` come from the sender's session, never from a request body; ``scope`` lists the
    regions the sender may act in (empty: every region). ``expected_version`` (optional)
    refuses the command when the aggregate has moved on since the sender looked at it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: uuid.UUID
    command_type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", max_length=64)
    aggregate_id: str = Field(min_length=1, max_length=128, pattern=_IDENT)
    actor: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=64)
    issued_at: AwareDatetime
    scope: tuple[str, ...] = ()
    expected_version: int | None = Field(default=None, ge=0)
    correlation_id: uuid.UUID | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The aggregate kind the command is for (``alert`` of ``alert.acknowledge``)."""
        return self.command_type.split(".", 1)[0]

    @property
    def verb(self) -> str:
        """What the command asks (``acknowledge`` of ``alert.acknowledge``)."""
        return self.command_type.split(".", 1)[1]


class Outcome(BaseModel):
    """The handler's answer to one command: accepted with the events it appended (and the
    aggregate's new version), or rejected with a ``code`` and a reason saying what to do."""

    model_config = ConfigDict(frozen=True)

    command_id: uuid.UUID
    aggregate_id: str
    accepted: bool
    version: int
    event_ids: tuple[uuid.UUID, ...] = ()
    event_types: tuple[str, ...] = ()
    payloads: tuple[dict[str, Any], ...] = ()
    """The types and payloads of those events (what was decided: a silence's end …)."""
    decided_at: dt.datetime | None = None
    code: Literal["conflict", "not_found", "forbidden", "invalid"] | None = None
    reason: str | None = None
    duplicate: bool = False
    """True when the command id had been decided before: nothing new was appended."""


@dataclass(frozen=True, slots=True)
class Change:
    """One event a decision asks for: its type and payload; ``region`` and ``occurred_at``
    default to the aggregate's region and the decision time."""

    event_type: str
    payload: Mapping[str, Any]
    region: str | None = None
    occurred_at: dt.datetime | None = None


S = TypeVar("S")


class Aggregate(Protocol[S]):
    """What the command handler needs of one aggregate kind; implementations are pure."""

    #: the kind named by command types (``alert``) and the event types it folds
    kind: str
    event_types: frozenset[str]

    def initial(self, aggregate_id: str) -> S:
        """The state of an aggregate nothing has happened to yet."""
        ...

    def apply(self, state: S, event: Envelope) -> S:
        """The state after one of its events (applying a repeat changes nothing)."""
        ...

    def decide(self, state: S, command: Command, now: dt.datetime) -> list[Change]:
        """The events ``command`` leads to; raises ``CommandRejectedError`` saying why."""
        ...

    def region_of(self, state: S) -> str | None:
        """The region the aggregate belongs to (scope checks); None before it exists."""
        ...


@dataclass(slots=True)
class Folded:
    """An aggregate's state as the handler holds it: the aggregate's own state, how many
    events it has (its version) and the command ids already decided for it."""

    state: Any
    version: int = 0
    commands: set[uuid.UUID] = field(default_factory=set)


def event_id_for(command_id: uuid.UUID, index: int) -> uuid.UUID:
    """The id of the ``index``-th event of a command's decision: the same for a repeat."""
    return uuid.uuid5(_NAMESPACE, f"{command_id}:{index}")


B = TypeVar("B", bound=BaseModel)


def parse_payload(model: type[B], command: Command) -> B:
    """The command's payload as ``model``; a malformed one is refused (``invalid``) naming
    the field, e.g. ``alert.silence payload.minutes: Input should be greater than …``."""
    try:
        return model.model_validate(command.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise CommandRejectedError(
            f"{command.command_type} payload.{where}: {first['msg']}", code="invalid"
        ) from None

"""A playbook run as an aggregate of the command handler (:mod:`streams.commands`).

:mod:`playbooks.aggregate` decides a run's commands (typed dataclasses) against its state;
this module carries them as data: :func:`to_command` turns one into the ``playbook.<verb>``
type and payload a :class:`~events.commands.Command` travels with, and
:class:`PlaybookRunAggregate` reads it back and decides it with the definition the run
follows, so every command on a run, from people and from the runtime, has one writer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from events.commands import Change
from events.commands import Command as Envelope
from events.envelope import Envelope as Event
from events.errors import CommandRejectedError
from events.regions import RegionReference
from playbooks.aggregate import (
    RUN_EVENT_TYPES,
    Activate,
    AddNote,
    AssignStep,
    Close,
    Command,
    CompleteStep,
    Decline,
    MarkOverdue,
    Propose,
    RunState,
    apply,
    decide,
)
from playbooks.errors import UnknownPlaybookError
from playbooks.model import Library

__all__ = ["PlaybookRunAggregate", "to_command"]

_KINDS: tuple[type[Any], ...] = (
    Propose,
    Activate,
    Decline,
    AssignStep,
    CompleteStep,
    AddNote,
    MarkOverdue,
    Close,
)
_VERBS: dict[str, type[Any]] = {
    re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower(): kind for kind in _KINDS
}


def to_command(command: Command, playbook_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The command type and payload of a run command (its actor travels on the envelope;
    ``playbook_id`` names the definition of a run being proposed)."""
    verb = next(v for v, kind in _VERBS.items() if isinstance(command, kind))
    fields = {
        f.name: getattr(command, f.name)
        for f in dataclasses.fields(command)
        if f.name not in ("actor", "run_id")
    }
    payload = {k: dict(v) if isinstance(v, dict) else v for k, v in fields.items()}
    if playbook_id is not None:
        payload["playbook_id"] = playbook_id
    return f"playbook.{verb}", payload


class PlaybookRunAggregate:
    """The playbook-run kind of the command handler (:class:`events.commands.Aggregate`)."""

    kind = "playbook"
    event_types = frozenset(RUN_EVENT_TYPES)

    def __init__(self, library: Library, reference: RegionReference) -> None:
        self.library = library
        self.reference = reference

    def initial(self, aggregate_id: str) -> RunState:
        return RunState(aggregate_id)

    def region_of(self, state: RunState) -> str | None:
        return state.area

    def apply(self, state: RunState, event: Event) -> RunState:
        return apply(state, event.event_type, event.payload_dict(), event.occurred_at)

    def decide(self, state: RunState, command: Envelope, now: dt.datetime) -> list[Change]:
        kind = _VERBS.get(command.verb)
        if kind is None:
            raise CommandRejectedError(
                f"{command.command_type}: runs take {', '.join(sorted(_VERBS))}", code="invalid"
            )
        payload = dict(command.payload)
        playbook_id = payload.pop("playbook_id", None) or state.playbook_id or ""
        names = {f.name for f in dataclasses.fields(kind)}
        if "actor" in names:
            payload["actor"] = command.actor
        if "run_id" in names:
            payload["run_id"] = command.aggregate_id
        try:
            typed = kind(**payload)
        except TypeError as exc:
            raise CommandRejectedError(f"{command.command_type}: {exc}", code="invalid") from None
        try:
            definition = self.library.require(playbook_id)
        except UnknownPlaybookError as exc:
            raise CommandRejectedError(str(exc), code="not_found") from None
        area = state.area or getattr(typed, "area", None) or self.reference.root().code
        return [Change(t, p, region=area) for t, p in decide(state, typed, definition, now)]

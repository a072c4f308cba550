"""A person's case decided command by command, as the command handler does it (for the
case-management tests)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cases.case_state import PersonCase
from cases.person import PersonAggregate
from events.clock import SHANGHAI
from events.commands import Command, event_id_for
from events.envelope import Envelope, internal_event

ROOT = Path(__file__).parents[1]
PERSON = "p_" + "a1" * 16


@dataclass
class CaseHarness:
    """One person's case decided command by command, as the handler does it."""

    aggregate: PersonAggregate
    state: PersonCase
    events: list[Envelope] = field(default_factory=list)
    actor: str = "officer-li"

    def send(
        self, verb: str, payload: dict[str, Any], *, on: dt.date, actor: str | None = None
    ) -> list[Envelope]:
        """Decide ``person.<verb>`` at noon of day ``on``; append and apply its events."""
        now = dt.datetime.combine(on, dt.time(12, 0), SHANGHAI)
        command = Command(
            command_id=uuid.uuid4(),
            command_type=f"person.{verb}",
            aggregate_id=self.state.person_id,
            actor=actor or self.actor,
            source="test",
            issued_at=now,
            payload=payload,
        )
        changes = self.aggregate.decide(self.state, command, now)
        out = []
        for i, change in enumerate(changes):
            envelope = internal_event(
                change.event_type,
                region=change.region or self.state.region or "",
                aggregate_id=self.state.person_id,
                actor=command.actor,
                source="test",
                payload=dict(change.payload),
                event_id=event_id_for(command.command_id, i),
                occurred_at=change.occurred_at or now,
                recorded_at=now,
            )
            envelope = envelope.model_copy(update={"causation_id": command.command_id})
            self.state = self.aggregate.apply(self.state, envelope)
            out.append(envelope)
        self.events += out
        return out

    def types(self, events: list[Envelope]) -> list[str]:
        return [e.event_type for e in events]

"""Run commands as data: every run command survives the trip through a command envelope
and is decided by the run aggregate exactly as the typed command is."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from events.clock import SHANGHAI
from events.commands import Command as Envelope
from events.envelope import internal_event
from events.errors import CommandRejectedError
from events.regions import load_reference
from playbooks import load_library
from playbooks.aggregate import (
    Activate,
    AddNote,
    AssignStep,
    Close,
    CompleteStep,
    Decline,
    MarkOverdue,
    Propose,
    RunState,
    decide,
)
from playbooks.commands import PlaybookRunAggregate, to_command

T0 = datetime(2024, 7, 1, 8, 0, tzinfo=SHANGHAI)
RUN = "natural_disaster:371300:d1"
LIBRARY = load_library()
AGG = PlaybookRunAggregate(LIBRARY, load_reference("shandong"))
PROPOSE = Propose(RUN, level="II", area="371300", trigger_alert_id="al1", disaster_id="d1")


def envelope(command: Any, playbook_id: str | None = None) -> Envelope:
    command_type, payload = to_command(command, playbook_id)
    return Envelope(
        command_id=uuid.uuid4(),
        command_type=command_type,
        aggregate_id=RUN,
        actor=getattr(command, "actor", "eams.playbooks"),
        source="test",
        issued_at=T0,
        payload=payload,
    )


def fold(state: RunState, changes: list[Any], at: datetime) -> RunState:
    for change in changes:
        event = internal_event(
            change.event_type,
            region=change.region,
            aggregate_id=RUN,
            actor="x",
            source="test",
            payload=dict(change.payload),
            occurred_at=at,
        )
        state = AGG.apply(state, event)
    return state


@pytest.mark.parametrize(
    "command",
    [
        Activate("commander-1"),
        Decline("commander-1", reason="已由市级处置"),
        AssignStep("assess", assignee="officer-2", actor="commander-1"),
        AddNote("commander-1", note="堤坝加固中", step_id="assess"),
        MarkOverdue("notify"),
        Close("commander-1", report={"steps_total": 7}, force=True, reason="演练结束"),
    ],
)
def test_a_command_as_data_is_decided_as_the_typed_one(command: Any) -> None:
    proposed = fold(
        RunState(RUN), AGG.decide(RunState(RUN), envelope(PROPOSE, "natural_disaster"), T0), T0
    )
    at = T0 + timedelta(days=2)
    try:
        typed = decide(proposed, command, LIBRARY.require("natural_disaster"), at)
    except CommandRejectedError as exc:
        with pytest.raises(CommandRejectedError, match=str(exc)[:40]):
            AGG.decide(proposed, envelope(command), at)
        return
    changes = AGG.decide(proposed, envelope(command), at)
    assert [(c.event_type, dict(c.payload)) for c in changes] == typed
    assert {c.region for c in changes} <= {"371300"}  # the run's area (none: nothing due)


def test_a_proposal_names_its_playbook_and_an_unknown_one_is_not_found() -> None:
    [change] = AGG.decide(RunState(RUN), envelope(PROPOSE, "natural_disaster"), T0)
    assert change.event_type == "playbook.proposed" and change.region == "371300"
    with pytest.raises(CommandRejectedError) as err:
        AGG.decide(RunState(RUN), envelope(PROPOSE, "no_such_playbook"), T0)
    assert err.value.code == "not_found"


def test_complete_step_carries_its_counts() -> None:
    command_type, payload = to_command(CompleteStep("enrol", actor="eams", counts={"enrolled": 12}))
    assert command_type == "playbook.complete_step"
    assert payload == {
        "step_id": "enrol",
        "note": None,
        "evidence": None,
        "counts": {"enrolled": 12},
    }

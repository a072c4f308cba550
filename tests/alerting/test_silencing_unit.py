"""The silence aggregate: created with at least one known matcher, ended once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from alerting.silencing import SilenceAggregate, SilenceState
from events.clock import SHANGHAI
from events.commands import Command
from events.envelope import internal_event
from events.errors import CommandRejectedError
from events.regions import load_reference

T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI)
AGG = SilenceAggregate(load_reference("shandong"))


def command(verb: str, **payload: Any) -> Command:
    return Command(
        command_id=uuid.uuid4(),
        command_type=f"silence.{verb}",
        aggregate_id="s-1",
        actor="duty-a",
        source="test",
        issued_at=T0,
        payload=payload,
    )


def run(state: SilenceState, cmd: Command, now: dt.datetime = T0) -> SilenceState:
    for change in AGG.decide(state, cmd, now):
        event = internal_event(
            change.event_type,
            region=change.region or state.region or "370000",
            aggregate_id="s-1",
            actor=cmd.actor,
            source="test",
            payload=dict(change.payload),
            occurred_at=now,
        )
        state = AGG.apply(state, event)
    return state


def test_create_then_end_once() -> None:
    created = run(AGG.initial("s-1"), command("create", region="371302", minutes=60))
    assert (created.status, created.region) == ("created", "371302")
    assert created.ends_at == T0 + dt.timedelta(minutes=60)
    ended = run(created, command("end"), T0 + dt.timedelta(minutes=5))
    assert ended.status == "ended"
    with pytest.raises(CommandRejectedError, match="already ended at 2026-07-01T09:05:00"):
        AGG.decide(ended, command("end"), T0 + dt.timedelta(minutes=6))


def test_a_silence_past_its_time_cannot_be_ended() -> None:
    created = run(AGG.initial("s-1"), command("create", level="III", minutes=10))
    assert created.region == "370000"  # no region matcher: the province's
    with pytest.raises(CommandRejectedError, match="already ended at 2026-07-01T09:10:00"):
        AGG.decide(created, command("end"), T0 + dt.timedelta(minutes=11))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"minutes": 5}, "give at least one matcher"),
        ({"region": "379999", "minutes": 5}, "not a known region code"),
        ({"level": "V", "minutes": 5}, "is not a level; use one of IV, III, II, I"),
        ({"rule": "r", "minutes": 0}, r"payload\.minutes"),
    ],
)
def test_bad_silences_are_invalid(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandRejectedError, match=message) as err:
        AGG.decide(AGG.initial("s-1"), command("create", **payload), T0)
    assert err.value.code == "invalid"


def test_ending_an_unknown_silence_is_not_found() -> None:
    with pytest.raises(CommandRejectedError) as err:
        AGG.decide(AGG.initial("s-1"), command("end"), T0)
    assert err.value.code == "not_found"

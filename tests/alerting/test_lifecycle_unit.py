"""The alert aggregate: pure decide/apply over the lifecycle, refusals that say why."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from alerting.lifecycle import AlertAggregate, AlertLifecycle
from events.clock import SHANGHAI
from events.commands import Command
from events.envelope import internal_event
from events.errors import CommandRejectedError

T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI)
ALERT = "job_loss_rate:371302:20260701T090000"
AGG = AlertAggregate()


def command(verb: str, actor: str = "duty-a", **payload: Any) -> Command:
    return Command(
        command_id=uuid.uuid4(),
        command_type=f"alert.{verb}",
        aggregate_id=ALERT,
        actor=actor,
        source="test",
        issued_at=T0,
        payload=payload,
    )


def run(state: AlertLifecycle, cmd: Command, now: dt.datetime = T0) -> AlertLifecycle:
    """Decide ``cmd`` and apply its events, as the handler does."""
    for change in AGG.decide(state, cmd, now):
        event = internal_event(
            change.event_type,
            region=change.region or state.region or "371302",
            aggregate_id=ALERT,
            actor=cmd.actor,
            source="test",
            payload=dict(change.payload),
            occurred_at=change.occurred_at or now,
        )
        state = AGG.apply(state, event)
    return state


def raised() -> AlertLifecycle:
    return run(
        AGG.initial(ALERT),
        command(
            "raise",
            actor="eams.alerting",
            rule="job_loss_rate",
            region="371302",
            level="III",
            summary="临沂市兰山区 失业率上升",
            value=5.0,
            threshold=4.0,
            at=T0.isoformat(),
        ),
    )


def test_raise_then_acknowledge_once() -> None:
    state = raised()
    assert (state.status, state.level, state.region) == ("firing", "III", "371302")
    acked = run(state, command("acknowledge", note="已电话确认"))
    assert acked.acknowledged_by == "duty-a"
    with pytest.raises(CommandRejectedError, match="already acknowledged by duty-a") as err:
        AGG.decide(acked, command("acknowledge", actor="duty-b"), T0)
    assert err.value.code == "conflict"


def test_a_second_raise_is_refused() -> None:
    with pytest.raises(CommandRejectedError, match="was raised at"):
        AGG.decide(
            raised(),
            command(
                "raise", rule="r", region="371302", level="III", summary="s", at=T0.isoformat()
            ),
            T0,
        )


def test_unknown_alert_is_not_found_and_resolved_is_final() -> None:
    with pytest.raises(CommandRejectedError) as err:
        AGG.decide(AGG.initial(ALERT), command("acknowledge"), T0)
    assert err.value.code == "not_found"
    resolved = run(raised(), command("resolve", automatic=True, resolution="回落"))
    assert resolved.status == "resolved"
    for verb in ("acknowledge", "resolve", "escalate"):
        with pytest.raises(CommandRejectedError, match="already resolved"):
            AGG.decide(resolved, command(verb), T0)


def test_silence_and_unsilence_are_their_own_events() -> None:
    state = raised()
    [change] = AGG.decide(state, command("silence", minutes=30), T0)
    assert change.event_type == "alert.silenced"
    assert change.payload["until"] == (T0 + dt.timedelta(minutes=30)).isoformat()
    silenced = run(state, command("silence", minutes=30))
    assert silenced.silenced(T0 + dt.timedelta(minutes=29))
    [change] = AGG.decide(silenced, command("unsilence"), T0 + dt.timedelta(minutes=1))
    assert change.event_type == "alert.unsilenced"
    unsilenced = run(silenced, command("unsilence"), T0 + dt.timedelta(minutes=1))
    assert not unsilenced.silenced(T0 + dt.timedelta(minutes=2))
    with pytest.raises(CommandRejectedError, match="is not silenced"):
        AGG.decide(unsilenced, command("unsilence"), T0)


def test_escalate_once_and_never_after_acknowledgement() -> None:
    escalated = run(raised(), command("escalate", actor="eams.alerting", to_role="province"))
    with pytest.raises(CommandRejectedError, match="was escalated at"):
        AGG.decide(escalated, command("escalate"), T0)
    acked = run(raised(), command("acknowledge"))
    with pytest.raises(CommandRejectedError, match="acknowledged by duty-a; no escalation"):
        AGG.decide(acked, command("escalate"), T0)


def test_inhibit_and_uninhibit_alternate() -> None:
    inhibited = run(raised(), command("inhibit", by_alert_id="job_loss_rate:371300:x"))
    assert inhibited.inhibited_by == "job_loss_rate:371300:x"
    with pytest.raises(CommandRejectedError, match="already inhibited"):
        AGG.decide(inhibited, command("inhibit", by_playbook_run="run-1"), T0)
    free = run(inhibited, command("uninhibit"))
    assert free.inhibited_by is None
    with pytest.raises(CommandRejectedError, match="is not inhibited"):
        AGG.decide(free, command("uninhibit"), T0)


def test_level_change_names_the_previous_level() -> None:
    [change] = AGG.decide(raised(), command("change_level", level="II", at=T0.isoformat()), T0)
    assert (change.payload["previous_level"], change.payload["level"]) == ("III", "II")
    with pytest.raises(CommandRejectedError, match="already at level III"):
        AGG.decide(raised(), command("change_level", level="III", at=T0.isoformat()), T0)


def test_malformed_commands_name_the_field() -> None:
    with pytest.raises(CommandRejectedError, match=r"payload\.minutes") as err:
        AGG.decide(raised(), command("silence", minutes=0), T0)
    assert err.value.code == "invalid"
    with pytest.raises(CommandRejectedError, match="alerts take"):
        AGG.decide(raised(), command("delete"), T0)


def test_apply_ignores_repeats() -> None:
    state = run(raised(), command("acknowledge"))
    event = internal_event(
        "alert.acknowledged",
        region="371302",
        aggregate_id=ALERT,
        actor="duty-b",
        source="test",
        payload={"alert_id": ALERT},
    )
    assert AGG.apply(state, event) == state  # the first acknowledgement stands

"""A playbook run as an aggregate: decide commands against the state, apply the events."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.clock import SHANGHAI
from events.envelope import internal_event
from playbooks import CommandRejected, Playbook, PlaybooksError, load_library, load_text
from playbooks.aggregate import (
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
    after_action_report,
    apply,
    decide,
    overdue_steps,
    ready_actions,
)

T0 = datetime(2024, 7, 1, 8, 0, tzinfo=SHANGHAI)
RUN = "natural_disaster:371300:d1"
FLOOD = load_library().require("natural_disaster")
ORDER = ["notify", "assess", "enrol", "open_posts", "job_fair", "approve_subsidy", "pay_subsidy"]

Events = list[tuple[str, dict[str, Any]]]


def fold(events: Events, at: datetime = T0, state: RunState | None = None) -> RunState:
    """Apply ``events`` (all occurring at ``at``) to ``state`` (a new run by default)."""
    state = state if state is not None else RunState(RUN)
    for event_type, payload in events:
        state = apply(state, event_type, payload, at)
    return state


def act(
    state: RunState, command: Command, at: datetime, definition: Playbook = FLOOD
) -> tuple[RunState, Events]:
    """Decide ``command`` at ``at``, apply its events and return the new state and them."""
    events = decide(state, command, definition, at)
    return fold(events, at, state), events


def proposed(level: str = "II") -> RunState:
    state, _ = act(
        RunState(RUN),
        Propose(RUN, level=level, area="371300", trigger_alert_id="al1", disaster_id="d1"),
        T0,
    )
    return state


def active(level: str = "II") -> RunState:
    state, _ = act(proposed(level), Activate("commander-1"), T0 + timedelta(minutes=10))
    return state


def rejection(state: RunState, command: Command, at: datetime = T0) -> str:
    with pytest.raises(CommandRejected) as info:
        decide(state, command, FLOOD, at)
    return str(info.value)


# -- lifecycle ---------------------------------------------------------------------------


def test_full_lifecycle_from_proposal_to_closure() -> None:
    state, events = act(
        RunState(RUN),
        Propose(RUN, level="I", area="371300", trigger_alert_id="al1", disaster_id="d1"),
        T0,
    )
    assert events == [
        (
            "playbook.proposed",
            {
                "run_id": RUN,
                "playbook_id": "natural_disaster",
                "trigger_alert_id": "al1",
                "disaster_id": "d1",
                "drill": False,
                "level": "I",
                "area": "371300",
            },
        )
    ]
    assert (state.status, state.level, state.area, state.proposed_at) == (
        "proposed",
        "I",
        "371300",
        T0,
    )
    assert ready_actions(state, FLOOD) == []  # nothing runs before activation

    t1 = T0 + timedelta(minutes=30)
    state, events = act(state, Activate("commander-1"), t1)
    assert events[0] == (
        "playbook.activated",
        {"run_id": RUN, "playbook_id": "natural_disaster", "drill": False, "level": "I"},
    )
    assigned = {p["step_id"]: p for t, p in events[1:] if t == "playbook.step_assigned"}
    assert len(events) == 1 + len(FLOOD.steps) == 1 + len(assigned)
    assert assigned["assess"]["due_at"] == t1 + timedelta(hours=2)  # level I override
    assert assigned["enrol"]["due_at"] == t1 + timedelta(days=3)
    assert assigned["enrol"]["owner_role"] == "case_officer"
    assert state.status == "active"
    assert state.activated_at == t1
    assert {s.status for s in state.steps.values()} == {"assigned"}
    assert [s.id for s in ready_actions(state, FLOOD)] == ["notify"]

    t = t1
    for step_id in ORDER:
        t += timedelta(minutes=30)
        state, events = act(state, CompleteStep(step_id, actor=f"{step_id}-officer"), t)
        assert events[0][0] == "playbook.step_completed"
    assert state.steps["approve_subsidy"].completed_by == "approve_subsidy-officer"
    assert [s.id for s in ready_actions(state, FLOOD)] == []
    assert state.open_steps == ["review"]

    report = after_action_report(state, FLOOD, {"people_enrolled": 120})
    assert "review" in rejection(state, Close("commander-1", report), t)
    state, _ = act(state, CompleteStep("review", actor="commander-1"), t)
    state, events = act(state, Close("commander-1", report), t + timedelta(hours=1))
    assert events == [("playbook.closed", {"run_id": RUN, "report": report})]
    assert state.status == "closed"
    assert state.closed_at == t + timedelta(hours=1)
    assert state.report == report
    assert "was closed" in rejection(state, Activate("commander-1"))


def test_every_decided_payload_is_a_valid_event() -> None:
    state = RunState(RUN)
    decided: Events = []
    commands: list[Command] = [
        Propose(RUN, level="III", area="371300"),
        Activate("commander-1"),
        AssignStep("assess", assignee="officer-7", actor="commander-1"),
        AddNote("officer-7", "道路中断 / roads cut", step_id="assess"),
        CompleteStep("assess", "officer-7", note="done", evidence="doc-12", counts={"a": 3}),
        MarkOverdue("enrol"),
        Close("commander-1", {"people_enrolled": 3.0}, force=True, reason="drill ended"),
    ]
    for i, command in enumerate(commands):
        state, events = act(state, command, T0 + timedelta(days=5 * i))
        decided += events
    types = [t for t, _ in decided]
    assert "playbook.step_overdue" in types and types[-1] == "playbook.closed"
    for event_type, payload in decided:
        envelope = internal_event(
            event_type,
            region="371300",
            aggregate_id=RUN,
            actor="test",
            source="test",
            payload=payload,
        )
        assert envelope.payload.aggregate_key("371300") == RUN
    assert decided[-1][1]["forced"] is True


def test_reassigning_a_step_keeps_its_deadline_and_owner() -> None:
    state = active()
    due = state.steps["enrol"].due_at
    state, events = act(state, AssignStep("enrol", "officer-7", "lead"), T0 + timedelta(hours=1))
    assert events == [
        (
            "playbook.step_assigned",
            {
                "run_id": RUN,
                "step_id": "enrol",
                "owner_role": "case_officer",
                "assignee": "officer-7",
                "due_at": due,
            },
        )
    ]
    assert state.steps["enrol"].assignee == "officer-7"
    assert decide(state, AssignStep("enrol", "officer-7", "lead"), FLOOD, T0) == []


# -- rejections --------------------------------------------------------------------------


def test_commands_out_of_order_are_rejected_with_what_to_do() -> None:
    new = RunState(RUN)
    assert rejection(new, Activate("c")) == (
        f"cannot activate: run {RUN!r} has not been proposed; propose it first"
    )
    assert "activate it first" in rejection(proposed(), CompleteStep("assess", "c"))
    assert "has not been proposed" in rejection(new, AddNote("c", "hello"))
    message = rejection(active(), Activate("c"))
    assert message.startswith(f"cannot activate: run {RUN!r} of 'natural_disaster' is active")
    assert message.endswith("it is already running, so there is nothing to do")


def test_decline_needs_a_reason_and_a_proposed_run() -> None:
    assert "say why" in rejection(proposed(), Decline("c", "  "))
    message = rejection(active(), Decline("c", "false alarm"))
    assert message.startswith("cannot decline: run")
    assert "close it instead" in message
    state, events = act(proposed(), Decline("c", "已有其他预案 / covered"), T0)
    assert events == [
        (
            "playbook.declined",
            {"run_id": RUN, "playbook_id": "natural_disaster", "reason": "已有其他预案 / covered"},
        )
    ]
    assert (state.status, state.decline_reason, state.closed_at) == (
        "declined",
        "已有其他预案 / covered",
        T0,
    )
    assert "was declined" in rejection(state, Activate("c"))


def test_completing_waits_for_dependencies_and_happens_once() -> None:
    state = active()
    message = rejection(state, CompleteStep("pay_subsidy", "finance-1"))
    assert message.startswith("cannot complete step 'pay_subsidy' yet: run")
    assert message.endswith("it waits for approve_subsidy; complete those first")
    message = rejection(state, CompleteStep("review", "c"))
    assert "it waits for open_posts, job_fair, pay_subsidy;" in message
    state, _ = act(state, CompleteStep("assess", "c"), T0 + timedelta(hours=1))
    message = rejection(state, CompleteStep("assess", "d"))
    assert "cannot complete step 'assess' again" in message
    assert "by c; add a note" in message


def test_unknown_step_lists_the_steps() -> None:
    message = rejection(active(), CompleteStep("asses", "c"))
    assert message.startswith("cannot complete step 'asses': run")
    assert message.endswith("no such step; its steps are " + ", ".join(s.id for s in FLOOD.steps))


def test_close_lists_open_steps_unless_forced_with_a_reason() -> None:
    state = active()
    message = rejection(state, Close("c", {}))
    assert message.startswith("cannot close with steps still open (notify, assess, enrol,")
    assert message.endswith("complete them, or close with force=True and a reason")
    assert "reason" in rejection(state, Close("c", {}, force=True))
    state, events = act(state, Close("c", {}, force=True, reason="merged into run 2"), T0)
    assert events[0][1]["forced"] is True
    assert events[0][1]["reason"] == "merged into run 2"
    assert state.status == "closed" and state.forced_close


def test_bad_values_are_rejected() -> None:
    assert "use one of IV, III, II, I" in rejection(RunState(RUN), Propose(RUN, "V", "371300"))
    assert "must be a number" in rejection(active(), CompleteStep("notify", "c", counts={"x": "1"}))  # type: ignore[dict-item]
    message = rejection(active(), AddNote("c", "x" * 501))
    assert message.startswith(f"run {RUN!r}: playbook.note_added note:")
    with pytest.raises(PlaybooksError, match="timezone-aware"):
        decide(RunState(RUN), Activate("c"), FLOOD, datetime(2024, 7, 1))
    with pytest.raises(PlaybooksError, match=r"pass RunState\('r2'\)"):
        decide(RunState(RUN), Propose("r2", "II", "371300"), FLOOD, T0)
    with pytest.raises(PlaybooksError, match="malformed playbook.declined"):
        apply(proposed(), "playbook.declined", {"run_id": RUN, "playbook_id": "x"}, T0)
    other = load_library().require("epidemic")
    with pytest.raises(PlaybooksError, match="pass its own definition"):
        decide(active(), Activate("c"), other, T0)


# -- races and restarts ------------------------------------------------------------------


@pytest.mark.parametrize("first", ["activate", "decline"])
def test_racing_activate_and_decline_have_one_winner(first: str) -> None:
    state = proposed()
    activate, decline = Activate("commander-1"), Decline("commander-2", "false alarm")
    # Both were sent against the proposed run; the writer decides them in log order.
    winner, loser = (activate, decline) if first == "activate" else (decline, activate)
    state, _ = act(state, winner, T0 + timedelta(minutes=1))
    with pytest.raises(CommandRejected):
        decide(state, loser, FLOOD, T0 + timedelta(minutes=1))
    assert state.status == ("active" if first == "activate" else "declined")


def test_racing_completions_of_one_step_have_one_winner() -> None:
    state = active()
    state, _ = act(state, CompleteStep("notify", "officer-1"), T0 + timedelta(minutes=20))
    with pytest.raises(CommandRejected):
        decide(state, CompleteStep("notify", "officer-2"), FLOOD, T0 + timedelta(minutes=21))
    assert state.steps["notify"].completed_by == "officer-1"


def test_proposing_again_is_harmless_only_when_identical() -> None:
    state = proposed()
    same = Propose(RUN, level="II", area="371300", trigger_alert_id="al1", disaster_id="d1")
    assert decide(state, same, FLOOD, T0) == []
    message = rejection(state, Propose(RUN, level="I", area="371300"))
    assert message.startswith("cannot propose again: run")
    assert message.endswith("use a new run id for a new proposal")


def test_applying_every_event_twice_gives_the_same_state() -> None:
    state = RunState(RUN)
    log: list[tuple[str, dict[str, Any], datetime]] = []
    commands: list[Command] = [
        Propose(RUN, level="II", area="371300"),
        Activate("c"),
        AssignStep("assess", "officer-7", "c"),
        AddNote("c", "note one"),
        CompleteStep("notify", "c", counts={"notified": 5}),
        MarkOverdue("assess"),
        CompleteStep("assess", "c"),
    ]
    for i, command in enumerate(commands):
        at = T0 + timedelta(days=i)
        state, events = act(state, command, at)
        log += [(t, p, at) for t, p in events]
    twice = RunState(RUN)
    for event_type, payload, at in log:
        twice = apply(twice, event_type, payload, at)
        twice = apply(twice, event_type, payload, at)
    assert twice == state
    assert twice.note_count == 1
    assert twice.steps["assess"].overdue and twice.steps["assess"].status == "completed"
    assert twice.steps["notify"].counts == {"notified": 5.0}
    # events of other streams leave the run as it is
    assert apply(state, "alert.raised", {}, T0) is state


# -- overdue -----------------------------------------------------------------------------


def test_a_step_is_marked_overdue_once() -> None:
    state = active()
    due = state.steps["enrol"].due_at
    assert due is not None
    assert decide(state, MarkOverdue("enrol"), FLOOD, due) == []  # at the deadline: not late
    assert "enrol" not in overdue_steps(state, due)
    late = due + timedelta(seconds=1)
    assert "enrol" in overdue_steps(state, late)
    state, events = act(state, MarkOverdue("enrol"), late)
    assert events == [("playbook.step_overdue", {"run_id": RUN, "step_id": "enrol", "due_at": due})]
    assert state.steps["enrol"].overdue
    assert decide(state, MarkOverdue("enrol"), FLOOD, late + timedelta(days=1)) == []
    assert "enrol" not in overdue_steps(state, late + timedelta(days=1))
    # a completed step is never overdue
    state, _ = act(state, CompleteStep("notify", "c"), late)
    assert decide(state, MarkOverdue("notify"), FLOOD, late + timedelta(days=9)) == []
    # nor is a step of a run that is not active
    assert decide(proposed(), MarkOverdue("enrol"), FLOOD, late + timedelta(days=9)) == []


# -- actions and drills ------------------------------------------------------------------


def test_ready_actions_follow_dependencies() -> None:
    state = active()
    assert [s.id for s in ready_actions(state, FLOOD)] == ["notify"]
    state, _ = act(state, CompleteStep("assess", "c"), T0 + timedelta(hours=1))
    assert [s.id for s in ready_actions(state, FLOOD)] == [
        "notify",
        "enrol",
        "open_posts",
        "job_fair",
    ]
    for step_id in ("notify", "enrol", "open_posts", "job_fair"):
        state, _ = act(state, CompleteStep(step_id, "c"), T0 + timedelta(hours=2))
    assert ready_actions(state, FLOOD) == []  # pay_subsidy waits for the approval
    state, _ = act(state, CompleteStep("approve_subsidy", "approver-1"), T0 + timedelta(hours=3))
    assert [s.id for s in ready_actions(state, FLOOD)] == ["pay_subsidy"]
    assert FLOOD.action_parameters("pay_subsidy", state.level or "") == {
        "subsidy_amount": FLOOD.variants["II"].subsidy_amount
    }


DRILL = (
    Path(FLOOD.file)
    .read_text(encoding="utf-8")
    .replace("id: natural_disaster", "id: flood_drill")
    .replace("activation: proposed", "activation: automatic")
    .replace("drill: false", "drill: true")
)


def test_an_automatic_drill_activates_when_proposed() -> None:
    drill = load_text(DRILL, "drill.yaml").require("flood_drill")
    state, events = act(RunState("drill-1"), Propose("drill-1", "IV", "371300"), T0, drill)
    types = [t for t, _ in events]
    assert types[:2] == ["playbook.proposed", "playbook.activated"]
    assert types[2:] == ["playbook.step_assigned"] * len(drill.steps)
    assert events[0][1]["drill"] is True and events[1][1]["drill"] is True
    assert state.status == "active" and state.drill
    assert state.steps["assess"].due_at == T0 + timedelta(hours=24)  # level IV override

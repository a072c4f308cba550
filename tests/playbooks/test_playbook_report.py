"""The after-action report: step timings against deadlines, plus the run's figures."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from events.clock import SHANGHAI
from playbooks import load_library
from playbooks.aggregate import (
    Activate,
    AddNote,
    CompleteStep,
    Propose,
    RunState,
    after_action_report,
    apply,
    decide,
)
from playbooks.aggregate import Command as RunCommand

T0 = datetime(2024, 7, 1, 8, 0, tzinfo=SHANGHAI)
FLOOD = load_library().require("natural_disaster")


def run(commands: list[tuple[RunCommand, datetime]]) -> RunState:
    state = RunState("r1")
    for command, at in commands:
        for event_type, payload in decide(state, command, FLOOD, at):
            state = apply(state, event_type, payload, at)
    return state


def test_report_times_each_step_against_its_deadline() -> None:
    activated = T0 + timedelta(hours=1)
    state = run(
        [
            (Propose("r1", level="III", area="371300"), T0),
            (Activate("commander-1"), activated),
            # assess is due 12 h after activation at level III: done in 11 h (on time)
            (CompleteStep("assess", "commander-1"), activated + timedelta(hours=11)),
            # enrol is due after 3 days: done an hour late
            (
                CompleteStep("enrol", "officer-1", counts={"people_enrolled": 42}),
                activated + timedelta(days=3, hours=1),
            ),
            (AddNote("officer-1", "名单已核对 / list checked"), activated),
        ]
    )
    report = after_action_report(
        state, FLOOD, {"people_enrolled": 42, "people_placed": 7, "subsidy_amount_paid": 0}
    )
    json.dumps(report)  # JSON-ready, as the playbook.closed payload needs
    steps = {s["step_id"]: s for s in report["steps"]}
    assert steps["assess"]["deadline_seconds"] == 12 * 3600
    assert steps["assess"]["due_at"] == (activated + timedelta(hours=12)).isoformat()
    assert steps["assess"]["on_time"] is True
    assert steps["assess"]["late_by_seconds"] == 0
    assert steps["assess"]["took_seconds"] == 11 * 3600
    assert steps["assess"]["completed_by"] == "commander-1"
    assert steps["enrol"]["on_time"] is False
    assert steps["enrol"]["late_by_seconds"] == 3600
    assert steps["enrol"]["counts"] == {"people_enrolled": 42.0}
    assert steps["pay_subsidy"]["status"] == "assigned"
    assert steps["pay_subsidy"]["on_time"] is None
    assert steps["pay_subsidy"]["late_by_seconds"] is None
    assert [s["step_id"] for s in report["steps"]] == [s.id for s in FLOOD.steps]
    assert report["counts"] == {
        "people_enrolled": 42.0,
        "people_placed": 7.0,
        "subsidy_amount_paid": 0.0,
    }
    assert (report["steps_total"], report["steps_completed"], report["steps_open"]) == (8, 2, 6)
    assert (report["steps_on_time"], report["steps_late"]) == (1, 1)
    assert report["notes"] == 1
    assert (report["level"], report["area"]) == ("III", "371300")
    assert report["activated_at"] == activated.isoformat()
    assert report["closed_at"] is None


def test_variant_helpers_for_the_runtime() -> None:
    variant = FLOOD.variant("I")
    assert variant.enrolment_ends_on(date(2024, 8, 1)) == date(2024, 10, 30)  # + 90 days
    assert variant.job_fair_by(T0) == date(2024, 7, 6)  # within 5 days

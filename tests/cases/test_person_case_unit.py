"""A person's case decided command by command (pure: the aggregate without a broker)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from case_harness import CaseHarness

from events.errors import CommandRejectedError

D = dt.date(2026, 3, 2)
REGISTER: dict[str, Any] = {
    "region": "370102",
    "target_group": "employment_difficulty",
    "national_id_masked": "370102********1234",
    "name_masked": "王*",
    "gender": "female",
    "birth_date": "1981-05-06",
    "facts": {"able_to_work": True, "willing_to_work": True},
}
PLAN: dict[str, Any] = {
    "goals": ["三个月内实现就业"],
    "measures": [
        {"measure": "career_guidance", "kind": "service", "owner": "officer-li"},
        {"measure": "social_insurance", "kind": "policy", "owner": "officer-li"},
    ],
}


def test_registration_assigns_the_first_office_records_facts_recognises_and_schedules(
    case: CaseHarness,
) -> None:
    events = case.send("register", REGISTER, on=D)
    assert case.types(events) == [
        "person.registered",
        "case.assigned",
        "person.facts_recorded",
        "person.recognized",
        "visit.scheduled",
    ]
    assigned = events[1].payload_dict()
    assert (assigned["office"], assigned["officer"], assigned["reason"]) == (
        "370102",
        "officer-li",
        "first_inquiry",
    )
    recognised = events[3].payload_dict()
    assert recognised["rule_set"] == "370100@1" and recognised["rule_id"] == "ed.older_woman"
    assert recognised["facts"]["birth_date"] == "1981-05-06"
    assert {c["condition"]: c["value"] for c in recognised["conditions"]}[
        "age >= $older_woman_age"
    ] == 44
    scheduled = events[4].payload_dict()
    # recognised with employment difficulty: visited every 60 days (policy)
    assert (scheduled["basis"], scheduled["interval_days"]) == ("employment_difficulty", 60)
    assert scheduled["due_on"] == (D + dt.timedelta(days=60)).isoformat()


def test_a_second_registration_is_refused_naming_who_owns_the_case(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    with pytest.raises(CommandRejectedError, match="office 370102, officer officer-li") as e:
        case.send("register", {**REGISTER, "region": "371302"}, on=D, actor="officer-zhang")
    assert e.value.code == "conflict"


def test_a_refusal_names_the_failed_conditions_and_is_not_repeated_unchanged(
    case: CaseHarness,
) -> None:
    young = {**REGISTER, "gender": "male", "birth_date": "1995-01-01"}
    events = case.send("register", young, on=D)
    refused = [e for e in events if e.event_type == "person.recognition_refused"]
    assert len(refused) == 1
    failed = {c["condition"] for c in refused[0].payload_dict()["failed"]}
    assert "age >= $older_man_age" in failed and "disability" in failed
    # the same facts again: no second refusal
    again = case.send("record_facts", {"facts": {"willing_to_work": True}}, on=D)
    assert case.types(again) == ["person.facts_recorded"]
    # a disability certificate: recognised
    later = case.send(
        "record_facts",
        {"facts": {"disability": True}, "document": "残疾证 37010219950101xxxx"},
        on=D,
    )
    assert "person.recognized" in case.types(later)
    assert case.state.recognised["employment_difficulty"].rule_id == "ed.disability"


def test_a_placement_revokes_the_recognition_and_the_exit_waits_for_stable_work(
    case: CaseHarness,
) -> None:
    case.send("register", REGISTER, on=D)
    placed = case.send(
        "record_placement",
        {"placement": "enterprise", "started_on": "2026-04-01"},
        on=dt.date(2026, 4, 1),
    )
    assert case.types(placed)[:3] == [
        "placement.recorded",
        "person.facts_recorded",
        "person.recognition_revoked",
    ]
    revoked = placed[2].payload_dict()
    assert "not employed (True)" in revoked["reason"]
    with pytest.raises(CommandRejectedError, match="after 6 months of stable work"):
        case.send("exit", {"reason": "employed", "exited_on": "2026-08-01"}, on=dt.date(2026, 8, 1))
    out = case.send(
        "exit", {"reason": "employed", "exited_on": "2026-10-01"}, on=dt.date(2026, 10, 1)
    )
    assert case.types(out) == ["person.exited"] and case.state.exited
    with pytest.raises(CommandRejectedError, match="was closed"):
        case.send(
            "record_visit",
            {"channel": "phone", "visited_on": "2026-10-02"},
            on=dt.date(2026, 10, 2),
        )


def test_the_third_unjustified_refusal_exits_the_case_and_ends_the_plan(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    case.send("agree_plan", PLAN, on=D)
    refusal = {"service": "job_referral", "refused_on": D.isoformat()}
    assert case.types(
        case.send("record_refusal", {**refusal, "justified": True, "reason": "生病"}, on=D)
    ) == ["service.refused"]
    case.send("record_refusal", refusal, on=D)
    case.send("record_refusal", refusal, on=D)
    assert not case.state.exited  # two unjustified so far
    last = case.send("record_refusal", refusal, on=D)
    assert case.types(last) == ["service.refused", "plan.ended", "person.exited"]
    assert last[-1].payload_dict()["reason"] == "refused_services"


def test_plans_are_versioned_and_reviews_fall_due(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    agreed = case.send("agree_plan", PLAN, on=D)[-1].payload_dict()
    assert (
        agreed["version"] == 1 and agreed["review_due"] == (D + dt.timedelta(days=90)).isoformat()
    )
    assert agreed["services"] == ["career_guidance"]
    with pytest.raises(CommandRejectedError, match="revise it"):
        case.send("agree_plan", PLAN, on=D)
    revised = case.send("revise_plan", {**PLAN, "note": "增加技能培训"}, on=dt.date(2026, 4, 1))
    assert revised[0].payload_dict()["version"] == 2
    assert case.state.plan_version == 2 and case.state.review_due == dt.date(2026, 6, 30)


def test_visits_reschedule_and_an_unreached_person_is_tried_within_a_week(
    case: CaseHarness,
) -> None:
    case.send("register", REGISTER, on=D)
    visit = {"channel": "home_visit", "visited_on": "2026-03-10"}
    reached = case.send("record_visit", visit, on=dt.date(2026, 3, 10))
    assert reached[-1].payload_dict()["due_on"] == "2026-05-09"
    missed = case.send(
        "record_visit",
        {**visit, "visited_on": "2026-05-09", "outcome": "not_reached"},
        on=dt.date(2026, 5, 9),
    )
    assert missed[-1].payload_dict() | {"person_id": None} == {
        "person_id": None,
        "due_on": "2026-05-16",
        "interval_days": 7,
        "basis": "employment_difficulty",
    }
    assert case.state.last_contact == dt.date(2026, 3, 10)  # not reached is no contact


def test_a_zero_employment_household_member_is_visited_monthly(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    events = case.send("record_facts", {"facts": {"zero_employment_household": True}}, on=D)
    assert events[-1].event_type == "visit.scheduled"
    assert events[-1].payload_dict()["interval_days"] == 30


def test_handover_keeps_first_inquiry_until_recorded(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    with pytest.raises(CommandRejectedError, match="hand it over instead"):
        case.send("assign", {"office": "370103", "officer": "officer-zhao"}, on=D)
    moved = case.send(
        "hand_over", {"office": "370103", "officer": "officer-zhao", "reason": "搬迁至市中区"}, on=D
    )
    assert moved[0].payload_dict()["from_officer"] == "officer-li"
    assert (case.state.office, case.state.officer) == ("370103", "officer-zhao")


def test_a_lead_is_assigned_contacted_and_converted_by_registration(case: CaseHarness) -> None:
    lead = {
        "region": "370102",
        "lead_id": "mz-2026-0001",
        "source": "civil_affairs",
        "suggested_target_group": "employment_difficulty",
        "facts": {"minimum_living_allowance": True},
    }
    case.send("discover", lead, on=D)
    case.send(
        "assign_lead",
        {"lead_id": "mz-2026-0001", "office": "370102", "officer": "officer-li"},
        on=D,
    )
    case.send("contact_lead", {"lead_id": "mz-2026-0001", "channel": "phone"}, on=D)
    events = case.send("register", {**REGISTER, "gender": "male", "birth_date": "1995-01-01"}, on=D)
    assert "lead.converted" in case.types(events)
    recognised = next(e for e in events if e.event_type == "person.recognized").payload_dict()
    # the civil-affairs record's fact carried into the recognition
    assert recognised["rule_id"] == "ed.minimum_living_allowance"
    with pytest.raises(CommandRejectedError, match="is converted"):
        case.send("decline_lead", {"lead_id": "mz-2026-0001", "reason": "x"}, on=D)


def test_a_future_day_is_refused(case: CaseHarness) -> None:
    with pytest.raises(CommandRejectedError, match=r"payload.on: 2026-03-03 is after today"):
        case.send("register", {**REGISTER, "on": "2026-03-03"}, on=D)


def test_a_day_before_the_log_can_hold_is_refused(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    with pytest.raises(
        CommandRejectedError, match=r"payload.visited_on: 0001-01-01 is before 1950"
    ):
        case.send("record_visit", {"channel": "phone", "visited_on": "0001-01-01"}, on=D)


def test_a_person_registered_again_after_exit_has_a_new_case(case: CaseHarness) -> None:
    case.send("register", REGISTER, on=D)
    case.send("exit", {"reason": "moved_away", "exited_on": D.isoformat()}, on=D)
    again = case.send(
        "register", {**REGISTER, "region": "370103"}, on=dt.date(2026, 5, 1), actor="officer-zhao"
    )
    assert case.types(again)[:2] == ["person.registered", "case.assigned"]
    assert case.state.open and (case.state.officer, case.state.region) == ("officer-zhao", "370103")
    assert case.state.facts["birth_date"] == "1981-05-06"  # what was known of the person stays

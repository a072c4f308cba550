"""A person's subsidy applications decided on their case (pure: the aggregate without a
broker): applied, checked with every condition named, approved by a second person only,
entitled for the months begun, refused, and conflicts judged against what the person holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from case_harness import CaseHarness

from events.errors import CommandRejectedError
from subsidies.application_state import applications
from subsidies.reactions import MoneyReactions

D = dt.date(2026, 3, 2)
GRADUATE: dict[str, Any] = {
    "region": "370702",  # 潍城区, 潍坊市
    "target_group": "low_income_graduate",
    "employment_status": "job_seeking_graduate",
    "national_id_masked": "370702********1234",
    "gender": "female",
    "birth_date": "2003-04-01",
    "facts": {"graduated_on": "2025-06-30", "low_income": True, "able_to_work": True,
              "willing_to_work": True},
}  # fmt: skip
OLDER: dict[str, Any] = {
    "region": "370702",
    "target_group": "employment_difficulty",
    "national_id_masked": "370702********5678",
    "gender": "male",
    "birth_date": "1968-09-15",
    "facts": {"able_to_work": True, "willing_to_work": True},
}


def _apply(case: CaseHarness, policy: str, on: dt.date = D, **facts: Any) -> str:
    [applied] = case.send("apply_subsidy", {"policy": policy, "facts": facts}, on=on)
    assert applied.event_type == "subsidy.applied"
    return str(applied.payload_dict()["application_id"])


def test_a_graduate_applies_is_checked_and_approved_by_a_second_person(
    case: CaseHarness,
) -> None:
    registered = case.send("register", GRADUATE, on=D)
    assert "person.recognized" in case.types(registered)
    app = _apply(case, "job_search_one_time")
    [checked] = case.send("check_subsidy", {"application_id": app}, on=D)
    doc = checked.payload_dict()
    assert (doc["eligible"], doc["version"], doc["policy"], doc["amount"], doc["months"]) == (
        True, "370700@2", "job_search_one_time", "1500.00", 1)  # fmt: skip
    assert doc["groups"] == ["low_income_graduate"] and doc["facts"]["low_income"] is True
    assert [(c["condition"], c["ok"]) for c in doc["conditions"]] == [
        ("in_low_income_graduate", True), ("household_in_need", True)]  # fmt: skip
    # maker-checker: the officer applied and checked; nor may the case's officer approve
    with pytest.raises(CommandRejectedError, match="officer-li applied for it") as refused:
        case.send("approve_subsidy", {"application_id": app}, on=D)
    assert refused.value.code == "forbidden"
    approved = case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    assert case.types(approved) == ["subsidy.approved", "subsidy.entitled"]
    assert approved[1].payload_dict() | {} == {
        "person_id": case.state.person_id, "application_id": app,
        "subsidy": "job_search_one_time", "amount": "1500.00", "month": "2026-03",
        "version": "370700@2"}  # fmt: skip
    held = applications(case.state)[app]
    assert (held.status, held.approver, held.checker, held.applicant) == (
        "entitled", "chief-zhang", "officer-li", "officer-li")  # fmt: skip
    assert held.entitled == {2026 * 12 + 2: Decimal("1500.00")}


def test_the_checker_may_not_approve_either(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _apply(case, "job_search_one_time")
    case.send("check_subsidy", {"application_id": app}, on=D, actor="clerk-sun")
    with pytest.raises(CommandRejectedError, match="clerk-sun checked it"):
        case.send("approve_subsidy", {"application_id": app}, on=D, actor="clerk-sun")
    # a handover after the application: the new officer may not approve, nor the old one
    case.send("hand_over", {"office": "370702", "officer": "officer-wu", "reason": "调岗"}, on=D)
    with pytest.raises(CommandRejectedError, match="officer-wu is the case's officer"):
        case.send("approve_subsidy", {"application_id": app}, on=D, actor="officer-wu")
    assert case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")


def test_an_ineligible_application_names_what_failed_and_cannot_be_approved(
    case: CaseHarness,
) -> None:
    case.send("register", OLDER, on=D)
    app = _apply(case, "post", employment_kind="enterprise")
    [checked] = case.send("check_subsidy", {"application_id": app}, on=D)
    doc = checked.payload_dict()
    assert doc["eligible"] is False
    assert doc["failed"] == ["insured (not known)", "contract_months >= 12 (not known)"]
    with pytest.raises(CommandRejectedError, match="was not found eligible") as refused:
        case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    assert refused.value.code == "conflict"
    [rejected] = case.send("reject_subsidy", {"application_id": app, "reason": "材料不全"}, on=D)
    assert rejected.payload_dict()["failed"] == doc["failed"]
    assert applications(case.state)[app].status == "rejected"
    with pytest.raises(CommandRejectedError, match="only an application not yet decided"):
        case.send("check_subsidy", {"application_id": app}, on=D)


def test_a_check_that_no_longer_holds_is_not_approved(case: CaseHarness) -> None:
    case.send("register", GRADUATE, on=D)
    app = _apply(case, "job_search_one_time")
    case.send("check_subsidy", {"application_id": app}, on=D)
    # the civil-affairs office finds the household is not low-income after all
    case.send("record_facts", {"facts": {"low_income": False, "minimum_living_allowance": False,
              "extreme_poverty": False, "zero_employment_household": False}}, on=D)  # fmt: skip
    with pytest.raises(CommandRejectedError, match="no longer holds on 2026-03-02") as refused:
        case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    assert "check it again" in str(refused.value)
    assert applications(case.state)[app].status == "checked"


def test_a_monthly_subsidy_is_entitled_for_the_months_begun_at_approval(
    case: CaseHarness,
) -> None:
    case.send("register", {**OLDER, "facts": {**OLDER["facts"]}}, on=dt.date(2026, 1, 5))
    app = _apply(case, "social_insurance_flexible", on=dt.date(2026, 1, 5),
                 employment_kind="flexible", insured=True, contributions_monthly="900")  # fmt: skip
    [checked] = case.send("check_subsidy", {"application_id": app}, on=dt.date(2026, 1, 6))
    assert checked.payload_dict()["eligible"], checked.payload_dict()["failed"]
    # 57 and a half: until retirement at 60 (2028-09), 32 months from 2026-01
    assert (checked.payload_dict()["months"], checked.payload_dict()["first_month"]) == (
        32, "2026-01")  # fmt: skip
    approved = case.send("approve_subsidy", {"application_id": app}, on=D, actor="chief-zhang")
    months = [e.payload_dict()["month"] for e in approved if e.event_type == "subsidy.entitled"]
    assert months == ["2026-01", "2026-02", "2026-03"]
    assert approved[0].payload_dict()["total"] == str(Decimal("603.00") * 32)

    # the calendar: the casework view asks once per person and month, the case entitles
    # each month begun since, once
    view = MoneyReactions()
    for event in case.events:
        view.fold(event)
    assert view.due(dt.date(2026, 3, 31)) == []  # March is entitled
    [ask] = view.due(dt.date(2026, 5, 1))
    assert (ask.command_type, ask.aggregate_id, ask.payload) == (
        "person.entitle_due", case.state.person_id, {"on": "2026-05-01"})  # fmt: skip
    assert view.due(dt.date(2026, 5, 20))[0].command_id == ask.command_id  # once a month
    due = case.send("entitle_due", ask.payload, on=dt.date(2026, 5, 1))
    assert [(e.payload_dict()["month"], e.payload_dict()["amount"]) for e in due] == [
        ("2026-04", "603.00"), ("2026-05", "603.00")]  # fmt: skip
    assert case.send("entitle_due", ask.payload, on=dt.date(2026, 5, 2)) == []
    for event in due:
        view.react(event)
    assert view.due(dt.date(2026, 5, 31)) == []
    stopped = case.send("correct_facts", {"facts": {"able_to_work": False}, "since": "2026-01-01",
                        "document": "走访核实"}, on=dt.date(2026, 6, 3))  # fmt: skip
    for event in stopped:
        view.react(event)
    assert "subsidy.stopped" in case.types(stopped)  # no more months after a stop
    assert view.due(dt.date(2026, 7, 1)) == []
    assert case.send("entitle_due", {"on": "2026-07-01"}, on=dt.date(2026, 7, 1)) == []


def test_a_one_time_subsidy_is_granted_once_and_the_same_policy_not_twice_at_once(
    case: CaseHarness,
) -> None:
    case.send("register", GRADUATE, on=D)
    first = _apply(case, "job_search_one_time")
    with pytest.raises(CommandRejectedError, match=f"{first} applies for job_search_one_time"):
        _apply(case, "job_search_one_time")
    case.send("check_subsidy", {"application_id": first}, on=D)
    case.send("approve_subsidy", {"application_id": first}, on=D, actor="chief-zhang")
    second = _apply(case, "job_search_one_time", on=dt.date(2026, 5, 1))
    [checked] = case.send("check_subsidy", {"application_id": second}, on=dt.date(2026, 5, 1))
    assert checked.payload_dict()["failed"] == [
        f"job_search_one_time is granted once per person: {first} had it"]  # fmt: skip


def test_a_command_says_what_is_wrong(case: CaseHarness) -> None:
    with pytest.raises(CommandRejectedError, match="is not registered"):
        _apply(case, "job_search_one_time")
    case.send("register", GRADUATE, on=D)
    with pytest.raises(CommandRejectedError, match="has no policy 'job_serch'") as unknown:
        _apply(case, "job_serch")
    assert "job_search_one_time" in str(unknown.value) and unknown.value.code == "invalid"
    with pytest.raises(CommandRejectedError, match="no application 'nope'") as missing:
        case.send("check_subsidy", {"application_id": "nope"}, on=D)
    assert missing.value.code == "not_found"
    with pytest.raises(CommandRejectedError, match="payload.facts.insured"):
        case.send("apply_subsidy", {"policy": "post", "facts": {"insured": 1}}, on=D)
    with pytest.raises(CommandRejectedError, match="no policy catalogue of city 370700"):
        _apply(case, "job_search_one_time", on=dt.date(2024, 6, 1))

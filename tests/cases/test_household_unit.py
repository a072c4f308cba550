"""Zero-employment households cleared dynamically: identified when no member of working age
works, cleared when one does (on time or not), escalated to the county past the deadline;
and the casework view that tells households and members of each other."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from cases.household import Household, HouseholdAggregate
from cases.policy import CasePolicy
from cases.reactions import CaseworkView
from events.clock import SHANGHAI
from events.commands import Command, event_id_for
from events.envelope import Envelope, internal_event
from events.regions import RegionReference

A = "p_" + "0a" * 16
B = "p_" + "0b" * 16


def _decide(
    aggregate: HouseholdAggregate, state: Household, verb: str, payload: dict[str, Any], on: dt.date
) -> tuple[Household, list[Envelope]]:
    now = dt.datetime.combine(on, dt.time(12), SHANGHAI)
    command = Command(
        command_id=uuid.uuid4(), command_type=f"household.{verb}", aggregate_id=state.household_id,
        actor="eams.casework", source="test", issued_at=now, payload=payload,
    )  # fmt: skip
    out = []
    for i, change in enumerate(aggregate.decide(state, command, now)):
        envelope = internal_event(
            change.event_type, region=change.region or state.region or "",
            aggregate_id=state.household_id,
            actor="eams.casework", source="test", payload=dict(change.payload),
            event_id=event_id_for(command.command_id, i), occurred_at=change.occurred_at or now,
        )  # fmt: skip
        state = aggregate.apply(state, envelope)
        out.append(envelope)
    return state, out


def _member(person: str, working_age: bool, employed: bool, on: dt.date) -> dict[str, Any]:
    return {
        "person_id": person,
        "region": "370102",
        "working_age": working_age,
        "employed": employed,
        "on": on.isoformat(),
    }


def test_identified_then_cleared_on_time(policy: CasePolicy, shandong: RegionReference) -> None:
    agg = HouseholdAggregate(policy, shandong)
    h = agg.initial("hh-1")
    day = dt.date(2026, 3, 1)
    h, events = _decide(agg, h, "record_member", _member(A, True, False, day), day)
    assert [e.event_type for e in events] == [
        "household.member_joined",
        "household.zero_employment_identified",
    ]
    assert events[1].payload_dict()["deadline"] == "2026-03-31"  # 30 days (policy)
    h, events = _decide(agg, h, "record_member", _member(B, False, False, day), day)
    assert [e.event_type for e in events] == [
        "household.member_joined"
    ]  # a pensioner changes nothing
    h, again = _decide(agg, h, "record_member", _member(B, False, False, day), day)
    assert again == []  # nothing new: nothing appended
    later = dt.date(2026, 3, 20)
    h, events = _decide(agg, h, "record_member", _member(A, True, True, later), later)
    cleared = events[-1].payload_dict()
    assert events[-1].event_type == "household.zero_employment_cleared"
    assert (cleared["on_time"], cleared["cleared_on"]) == (True, "2026-03-20")
    assert not h.zero_employment


def test_escalated_once_past_the_deadline_to_the_county(
    policy: CasePolicy, shandong: RegionReference
) -> None:
    agg = HouseholdAggregate(policy, shandong)
    day = dt.date(2026, 3, 1)
    h, _ = _decide(agg, agg.initial("hh-2"), "record_member", _member(A, True, False, day), day)
    h, none = _decide(agg, h, "escalate", {"on": "2026-03-31"}, dt.date(2026, 3, 31))
    assert none == []  # on the deadline: not yet overdue
    h, events = _decide(agg, h, "escalate", {"on": "2026-04-01"}, dt.date(2026, 4, 1))
    assert events[0].payload_dict()["escalated_to"] == "370102"
    h, twice = _decide(agg, h, "escalate", {"on": "2026-04-02"}, dt.date(2026, 4, 2))
    assert twice == []
    late = dt.date(2026, 4, 10)
    h, events = _decide(agg, h, "record_member", _member(A, True, True, late), late)
    assert events[-1].payload_dict()["on_time"] is False


def _event(
    kind: str, aggregate: str, payload: dict[str, Any], day: dt.date, caused: bool = True
) -> Envelope:
    envelope = internal_event(
        kind, region="370102", aggregate_id=aggregate, actor="x", source="test", payload=payload,
        occurred_at=dt.datetime.combine(day, dt.time(12), SHANGHAI),
    )  # fmt: skip
    return envelope.model_copy(update={"causation_id": uuid.uuid4() if caused else None})


def test_the_view_tells_the_household_and_then_the_members(
    policy: CasePolicy, shandong: RegionReference
) -> None:
    view = CaseworkView(policy, shandong)
    day = dt.date(2026, 3, 1)
    registered = {
        "person_id": A,
        "target_group": "employment_difficulty",
        "employment_status": "unemployed",
        "household_id": "hh-1",
    }
    # an age not known yet counts as working age
    (report,) = view.react(_event("person.registered", A, registered, day))
    assert (report.command_type, report.aggregate_id) == ("household.record_member", "hh-1")
    assert report.payload["working_age"] is True and report.payload["employed"] is False
    facts = {"birth_date": "1980-01-01", "gender": "male", "employed": False}
    recorded = {"person_id": A, "facts": facts, "observed_on": "2026-03-01", "source": "officer"}
    # nothing the household does not know already
    assert view.react(_event("person.facts_recorded", A, recorded, day)) == []
    older = {**recorded, "facts": {"birth_date": "1960-01-01"}}
    (retired,) = view.react(_event("person.facts_recorded", A, older, day))
    assert retired.payload["working_age"] is False
    joined = {"household_id": "hh-1", "person_id": A, "working_age": True}
    view.react(_event("household.member_joined", "hh-1", joined, day))
    identified = _event(
        "household.zero_employment_identified",
        "hh-1",
        {"household_id": "hh-1", "members_of_working_age": 1, "deadline": "2026-03-31"},
        day,
    )
    (flag,) = view.react(identified)
    assert (flag.command_type, flag.aggregate_id) == ("person.record_facts", A)
    assert flag.payload["facts"] == {"zero_employment_household": True}
    assert view.react(identified)[0].command_id == flag.command_id  # a repeat: the same command
    assert [r.command_type for r in view.due(dt.date(2026, 4, 1))] == ["household.escalate"]
    assert view.due(dt.date(2026, 3, 31)) == []


def test_an_imported_person_event_is_judged_again(
    policy: CasePolicy, shandong: RegionReference
) -> None:
    view = CaseworkView(policy, shandong)
    day = dt.date(2026, 3, 1)
    payload = {
        "person_id": A,
        "target_group": "employment_difficulty",
        "employment_status": "unemployed",
    }
    imported = view.react(_event("person.registered", A, payload, day, caused=False))
    assert [r.command_type for r in imported] == ["person.evaluate"]
    decided = _event(
        "person.facts_recorded",
        A,
        {
            "person_id": A,
            "facts": {"disability": True},
            "observed_on": "2026-03-01",
            "source": "officer",
        },
        day,
    )
    assert view.react(decided) == []  # decided by the case itself: already judged

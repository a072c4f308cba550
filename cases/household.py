"""A household as a command aggregate (kind ``household``, keyed by the household id): its
members of working age and whether any is in work, and the zero-employment cycle the notice
asks to clear dynamically (动态清零):

- identified when it has a member of working age and none of them is employed
  (``household.zero_employment_identified`` with the clearing deadline of the city's policy);
- cleared when one of them takes up work (``household.zero_employment_cleared``, on time or
  not against the deadline);
- escalated to the county once past the deadline and still not cleared
  (``household.clearing_overdue``), once per deadline.

Members are reported by the casework reactor (:mod:`streams.casework`) from the persons'
own events; the aggregate decides the cycle from what it was told.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cases.policy import CasePolicy
from events.clock import SHANGHAI
from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.payload_base import PersonId
from events.regions import RegionReference

__all__ = ["HOUSEHOLD_EVENTS", "Household", "HouseholdAggregate"]

HOUSEHOLD_EVENTS = frozenset(
    {
        "household.member_joined",
        "household.zero_employment_identified",
        "household.zero_employment_cleared",
        "household.clearing_overdue",
    }
)


@dataclass(frozen=True, slots=True)
class Household:
    """The state of one household."""

    household_id: str
    region: str | None = None
    members: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    """person -> (of working age, employed)."""
    identified_on: dt.date | None = None
    deadline: dt.date | None = None
    escalated: bool = False

    @property
    def zero_employment(self) -> bool:
        """Identified and not cleared since."""
        return self.identified_on is not None

    def qualifies(self) -> bool:
        """A member of working age, and none of them employed."""
        working = [employed for age, employed in self.members.values() if age]
        return bool(working) and not any(working)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordMember(_Body):
    """What is known of one member now."""

    person_id: PersonId
    region: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,12}$")]
    working_age: bool
    employed: bool
    on: dt.date


class Escalate(_Body):
    """Check the deadline on a day."""

    on: dt.date


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), SHANGHAI)


class HouseholdAggregate:
    """The command aggregate of a household."""

    kind = "household"
    event_types = HOUSEHOLD_EVENTS

    def __init__(self, policy: CasePolicy, reference: RegionReference) -> None:
        self.policy = policy
        self.reference = reference

    def initial(self, aggregate_id: str) -> Household:
        """A household nothing is known of."""
        return Household(household_id=aggregate_id)

    def region_of(self, state: Household) -> str | None:
        """The region of the household (its first member's)."""
        return state.region

    def apply(self, state: Household, event: Envelope) -> Household:
        """The household after one of its events."""
        p = event.payload_dict()
        kind = event.event_type
        region = state.region or event.region
        if kind == "household.member_joined":
            members = {
                **state.members,
                p["person_id"]: (bool(p["working_age"]), bool(p.get("employed"))),
            }
            return replace(state, region=region, members=members)
        if kind == "household.zero_employment_identified":
            day = (
                dt.date.fromisoformat(p["identified_on"])
                if p.get("identified_on")
                else event.occurred_at.astimezone(SHANGHAI).date()
            )
            deadline = dt.date.fromisoformat(p["deadline"]) if p.get("deadline") else None
            return replace(
                state, region=region, identified_on=day, deadline=deadline, escalated=False
            )
        if kind == "household.zero_employment_cleared":
            return replace(state, identified_on=None, deadline=None, escalated=False)
        if kind == "household.clearing_overdue":
            return replace(state, escalated=True)
        return state

    def decide(self, state: Household, command: Command, now: dt.datetime) -> list[Change]:
        """The events a report of a member or a deadline check leads to."""
        today = now.astimezone(SHANGHAI).date()
        if command.verb == "record_member":
            return self._record_member(state, parse_payload(RecordMember, command), today)
        if command.verb == "escalate":
            return self._escalate(state, parse_payload(Escalate, command))
        raise CommandRejectedError(
            f"{command.command_type}: a household takes record_member and escalate", code="invalid"
        )

    def _record_member(self, state: Household, body: RecordMember, today: dt.date) -> list[Change]:
        if body.on > today:
            raise CommandRejectedError(
                f"household.record_member payload.on: {body.on} is after today", code="invalid"
            )
        at = _noon(body.on) if body.on < today else None
        region = state.region or body.region
        member = (body.working_age, body.employed)
        if state.members.get(body.person_id) == member:
            return []
        out = [
            Change(
                "household.member_joined",
                {
                    "household_id": state.household_id,
                    "person_id": body.person_id,
                    "working_age": body.working_age,
                    "employed": body.employed,
                },
                region=region,
                occurred_at=at,
            )
        ]
        after = replace(state, region=region, members={**state.members, body.person_id: member})
        city = self.reference.city_of(region)
        policy = self.policy.for_city(city).households
        if not after.zero_employment and after.qualifies():
            deadline = body.on + dt.timedelta(days=policy.clearing_deadline_days)
            working = sum(1 for age, _ in after.members.values() if age)
            out.append(
                Change(
                    "household.zero_employment_identified",
                    {
                        "household_id": state.household_id,
                        "members_of_working_age": working,
                        "identified_on": body.on.isoformat(),
                        "deadline": deadline.isoformat(),
                    },
                    region=region,
                    occurred_at=at,
                )
            )
        elif after.zero_employment and any(e for age, e in after.members.values() if age):
            employed = sum(1 for age, e in after.members.values() if age and e)
            on_time = after.deadline is None or body.on <= after.deadline
            out.append(
                Change(
                    "household.zero_employment_cleared",
                    {
                        "household_id": state.household_id,
                        "employed_members": employed,
                        "cleared_on": body.on.isoformat(),
                        "on_time": on_time,
                    },
                    region=region,
                    occurred_at=at,
                )
            )
        return out

    def _escalate(self, state: Household, body: Escalate) -> list[Change]:
        if not state.zero_employment or state.deadline is None or state.escalated:
            return []
        if body.on <= state.deadline:
            return []
        county = state.region or ""
        found = self.reference.get(county)
        while (
            found is not None and found.level not in ("county", "city", "province") and found.parent
        ):
            found = self.reference.get(found.parent)
        escalated_to = found.code if found is not None else county
        return [
            Change(
                "household.clearing_overdue",
                {
                    "household_id": state.household_id,
                    "deadline": state.deadline.isoformat(),
                    "escalated_to": escalated_to,
                },
            )
        ]

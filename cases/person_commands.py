"""The payloads of the commands a person's case takes (``person.<verb>``).

The actor and the regions come from the sender's session; these bodies say only what is
asked. Dates are the day something happened (``on``, ``visited_on`` …): a command for an
earlier day is judged as of that day (the rules in force then); one for a later day than
today is refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from events.payload_base import MAX_ITEMS, Ident, IsoDate, Masked, Money, Text, Uscc
from events.payloads_cases import FactValues, PlanMeasure
from events.vocabulary import (
    EmploymentStatus,
    ExitReason,
    Gender,
    LeadSource,
    PlacementKind,
    ServiceKind,
    TargetGroup,
    VisitChannel,
)

__all__ = [
    "AgreePlan",
    "Assign",
    "AssignLead",
    "ContactLead",
    "DeclineLead",
    "Discover",
    "EndPlan",
    "Evaluate",
    "Exit",
    "HandOver",
    "RecordFacts",
    "RecordPlacement",
    "RecordRefusal",
    "RecordService",
    "RecordVisit",
    "Register",
    "RevisePlan",
]

Region = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,12}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Register(_Body):
    """Register a person (real-name: the caller pseudonymised the ID and masked the rest)."""

    region: Region
    target_group: TargetGroup
    employment_status: EmploymentStatus = EmploymentStatus.UNEMPLOYED
    national_id_masked: Masked | None = None
    name_masked: Masked | None = None
    phone_masked: Masked | None = None
    gender: Gender | None = None
    birth_date: IsoDate | None = None
    household_id: Ident | None = None
    facts: FactValues = FactValues()
    office: Region | None = None
    """The office that serves the person first (default: the registration region)."""
    lead_id: Ident | None = None
    """The discovered lead this registration converts."""
    on: IsoDate | None = None


class RecordFacts(_Body):
    """Record facts observed about the person; the case is judged again."""

    facts: FactValues
    source: Ident = "officer"
    document: Text | None = None
    on: IsoDate | None = None


class Evaluate(_Body):
    """Judge the person again (after a rule change, or a day that changes derived facts)."""

    on: IsoDate | None = None


class Assign(_Body):
    """Give an unowned case to an office and officer."""

    office: Region
    officer: Ident


class HandOver(_Body):
    """Move the case to another office or officer, saying why."""

    office: Region
    officer: Ident
    reason: Text


class AgreePlan(_Body):
    """Sign the person's assistance agreement (援助协议)."""

    plan_id: Ident | None = None
    goals: Annotated[tuple[Text, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    measures: Annotated[tuple[PlanMeasure, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    review_due: IsoDate | None = None
    on: IsoDate | None = None


class RevisePlan(_Body):
    """Revise the agreement: a new version of its goals and measures."""

    goals: Annotated[tuple[Text, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    measures: Annotated[tuple[PlanMeasure, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    review_due: IsoDate | None = None
    note: Text | None = None
    on: IsoDate | None = None


class EndPlan(_Body):
    """End the agreement."""

    reason: Text


class RecordVisit(_Body):
    """A visit or contact (regular visits)."""

    channel: VisitChannel
    visited_on: IsoDate
    outcome: Literal["contacted", "not_reached"] = "contacted"
    needs: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    note: Text | None = None
    office: Region | None = None


class RecordService(_Body):
    """A basic service delivered (guidance, referral, policy briefing, counselling)."""

    service: ServiceKind
    delivered_on: IsoDate
    note: Text | None = None
    office: Region | None = None


class RecordRefusal(_Body):
    """The person turned down a service or job; unjustified refusals count towards exit."""

    service: Ident
    refused_on: IsoDate
    justified: StrictBool = False
    reason: Text | None = None


class RecordPlacement(_Body):
    """The person took up work."""

    placement: PlacementKind
    started_on: IsoDate
    employer_name: Text | None = None
    employer_uscc: Uscc | None = None
    monthly_wage: Money | None = None


class Exit(_Body):
    """End the case (dynamic exit), with the reason the policy checks."""

    reason: ExitReason
    exited_on: IsoDate
    note: Text | None = None


class Discover(_Body):
    """A possibly eligible person found in another department's data."""

    region: Region
    lead_id: Ident
    source: LeadSource
    suggested_target_group: TargetGroup | None = None
    facts: FactValues = FactValues()
    record_on: IsoDate | None = None
    national_id_masked: Masked | None = None
    name_masked: Masked | None = None


class AssignLead(_Body):
    """Give a lead to the community's officer."""

    lead_id: Ident
    office: Region
    officer: Ident


class ContactLead(_Body):
    """The officer contacted the lead."""

    lead_id: Ident
    channel: VisitChannel
    outcome: Text | None = None
    on: IsoDate | None = None


class DeclineLead(_Body):
    """The lead declined assistance or does not need it."""

    lead_id: Ident
    reason: Text

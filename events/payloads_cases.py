"""Payloads of case management: the facts a recognition is judged on, the decisions it
leads to, the office and officer in charge, the plan's life, refusals, leads and the
zero-employment households' deadlines.

The case of a person is one aggregate keyed by the person's pseudonym (:mod:`cases`), so
every payload here that is about a person derives from ``PersonPayload``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from events.payload_base import (
    MAX_ITEMS,
    EventPayload,
    Ident,
    IsoDate,
    PersonId,
    PersonPayload,
    Text,
)
from events.vocabulary import Gender, TargetGroup

__all__ = [
    "CaseAssigned",
    "CaseHandedOver",
    "ConditionResult",
    "FactValues",
    "HouseholdClearingOverdue",
    "HouseholdMemberJoined",
    "LeadAssigned",
    "LeadDeclined",
    "PersonFactsRecorded",
    "PersonRead",
    "PersonRecognitionRefused",
    "PlanEnded",
    "PlanMeasure",
    "PlanRevised",
    "ServiceRefused",
    "VisitScheduled",
]

Hukou = Literal["rural", "urban"]
"""Household registration (户籍) kind."""


class FactValues(BaseModel):
    """The facts about a person that recognition rules read; every field optional, so an
    event carries only what it observed (a later value of a field replaces the earlier)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gender: Gender | None = None
    birth_date: IsoDate | None = None
    hukou: Hukou | None = None
    disability: StrictBool | None = None
    disability_grade: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    household_id: Ident | None = None
    minimum_living_allowance: StrictBool | None = None
    """The household receives the minimum living allowance (低保)."""
    extreme_poverty: StrictBool | None = None
    """The person is supported as extremely poor (特困人员)."""
    low_income: StrictBool | None = None
    """The household is a low-income household (低收入家庭)."""
    zero_employment_household: StrictBool | None = None
    land_lost: StrictBool | None = None
    """Lost their contracted land to expropriation (失地)."""
    employed: StrictBool | None = None
    unemployed_since: IsoDate | None = None
    """Start of the registered unemployment (登记失业) now running."""
    graduated_on: IsoDate | None = None
    able_to_work: StrictBool | None = None
    willing_to_work: StrictBool | None = None
    transferred: StrictBool | None = None
    """A rural labourer already transferred into non-farm work (已转移就业)."""
    disaster_id: Ident | None = None
    """The flagged disaster (``disaster_area.flagged``) the person was hit by."""
    deceased: StrictBool | None = None
    died_on: IsoDate | None = None
    """The day of death a civil-affairs death record gives."""

    def given(self) -> dict[str, Any]:
        """The facts this value sets (the unset ones left out)."""
        return self.model_dump(exclude_none=True, mode="json")


class PersonFactsRecorded(PersonPayload):
    """Facts about a person were observed (by an officer, a registration, a civil-affairs
    record …); each replaces the earlier value of the same fact."""

    facts: FactValues
    observed_on: date
    source: Ident
    """Who observed them: ``officer``, ``registration``, ``civil_affairs`` …"""
    document: Text | None = None
    """The record or document the facts come from (a certificate number, a feed line)."""


class ConditionResult(BaseModel):
    """One condition of a rule as it was judged: its text, the fact's value, the outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Ident
    condition: Text
    value: (
        bool
        | Annotated[int, Field(ge=-(10**9), le=10**9)]
        | float
        | Annotated[str, Field(max_length=200)]
        | None
    ) = None
    """The value the condition read (a date as ISO text; None: the fact is not known)."""
    ok: bool


class PersonRecognitionRefused(PersonPayload):
    """A person was judged not to belong to a group under the rules in force that day."""

    target_group: TargetGroup
    rule_set: Ident
    """The city's rule-set version judged by (``370100@1``)."""
    evaluated_on: date
    failed: Annotated[tuple[ConditionResult, ...], Field(max_length=MAX_ITEMS)] = ()
    facts: FactValues = FactValues()
    """The facts the judgement read, as known when it was made."""


class CaseAssigned(PersonPayload):
    """The office and officer in charge of a case (first-inquiry responsibility: the first
    office that serves a person owns the case until a handover)."""

    office: Ident
    """The region code of the office (a county's or a street's / township's service station)."""
    officer: Ident
    reason: Literal["first_inquiry", "assignment"] = "first_inquiry"


class CaseHandedOver(PersonPayload):
    """A case moved to another office or officer, with the reason."""

    from_office: Ident
    from_officer: Ident
    office: Ident
    officer: Ident
    reason: Text


class PlanMeasure(BaseModel):
    """One measure of an assistance agreement: a service or a policy, who, by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: Ident
    """A service (``career_guidance`` …) or a subsidy kind (``social_insurance`` …)."""
    kind: Literal["service", "policy"]
    owner: Ident
    deadline: IsoDate | None = None
    done: StrictBool = False


class VisitScheduled(PersonPayload):
    """The case's next regular visit falls due (after an assignment, a visit, or a change of
    group or risk that changes the interval)."""

    due_on: date
    interval_days: Annotated[int, Field(ge=1, le=366)]
    basis: Ident
    """Which schedule rule set the interval (``zero_employment_household``, ``default`` …)."""


class PlanRevised(PersonPayload):
    """The assistance agreement was revised: a new version of its goals and measures."""

    plan_id: Ident
    version: Annotated[int, Field(ge=2, le=10_000)]
    goals: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    measures: Annotated[tuple[PlanMeasure, ...], Field(max_length=MAX_ITEMS)] = ()
    review_due: date | None = None
    note: Text | None = None


class PlanEnded(PersonPayload):
    """The assistance agreement ended (goals met, the person exited, replaced …)."""

    plan_id: Ident
    reason: Text


class ServiceRefused(PersonPayload):
    """A person turned down an offered service or job; ``justified`` when they had a reason
    the officer accepted (only unjustified refusals count towards exit)."""

    service: Ident
    refused_on: date
    justified: StrictBool = False
    reason: Text | None = None


class LeadAssigned(PersonPayload):
    """A discovered lead was given to the community's officer to contact."""

    lead_id: Ident
    office: Ident
    officer: Ident


class LeadDeclined(PersonPayload):
    """A lead was contacted and declined assistance (or was found not to need it)."""

    lead_id: Ident
    reason: Text


class HouseholdMemberJoined(EventPayload):
    """A person was recorded as a member of a household (the household's side)."""

    AGGREGATE_FIELD = "household_id"

    household_id: Ident
    person_id: PersonId
    working_age: bool
    employed: bool = False


class HouseholdClearingOverdue(EventPayload):
    """A zero-employment household passed its clearing deadline: escalated to the county."""

    AGGREGATE_FIELD = "household_id"

    household_id: Ident
    deadline: date
    escalated_to: Ident
    """The county's region code."""


class PersonRead(EventPayload):
    """Someone read a person's detail (the actor of the envelope is who): whom, why and
    what. Not a person event: a read is no contact and changes no case."""

    subject: PersonId
    purpose: Text
    view: Ident
    """What was read: ``case``, ``timeline``, ``explain`` …"""

    def aggregate_key(self, region: str) -> str | None:
        """Every read is one stream of the audit trail, not the person's case."""
        return "audit:person_read"

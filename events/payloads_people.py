"""Payloads of the people part of the catalogue: registration, recognition, services,
plans, placements, training, subsidies, public-welfare posts and discovered leads.

All person-bearing payloads derive from ``PersonPayload`` and are keyed by the
person's pseudonym once ingest has pseudonymised them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, field_validator

from events.payload_base import (
    MAX_ITEMS,
    EventPayload,
    Ident,
    Money,
    PersonId,
    PersonPayload,
    Positive,
    Text,
    Uscc,
    not_before,
)
from events.payloads_cases import ConditionResult, FactValues, PlanMeasure
from events.payloads_money import YearMonth
from events.vocabulary import (
    DifficultyReason,
    EmploymentStatus,
    ExitReason,
    Gender,
    LeadSource,
    PlacementKind,
    ServiceKind,
    SubsidyKind,
    TargetGroup,
    VisitChannel,
)

__all__ = [
    "HouseholdZeroEmploymentCleared",
    "HouseholdZeroEmploymentIdentified",
    "LeadContacted",
    "LeadConverted",
    "LeadDiscovered",
    "PersonExited",
    "PersonRecognitionRevoked",
    "PersonRecognized",
    "PersonRegistered",
    "PlacementRecorded",
    "PlanAgreed",
    "ReferralMade",
    "ServiceDelivered",
    "TrainingCompleted",
    "TrainingEnrolled",
    "VisitRecorded",
    "WelfarePostAssigned",
    "WelfarePostAttendanceRecorded",
    "WelfarePostOpened",
    "WelfarePostOverbooked",
    "WelfarePostReleased",
    "WelfarePostSeated",
    "WelfarePostVacated",
]


class PersonRegistered(PersonPayload):
    """A person was registered (real-name) as a possible assistance target."""

    target_group: TargetGroup
    employment_status: EmploymentStatus
    household_id: Ident | None = None
    gender: Gender | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    registered_on: date | None = None
    disaster_id: Ident | None = None
    cites_event: UUID | None = None
    """event_id of the disaster_area.flagged event this registration responds to."""


class PersonRecognized(PersonPayload):
    """A person was recognised as a member of a target group under the city's rules."""

    target_group: TargetGroup
    difficulty_reasons: Annotated[tuple[DifficultyReason, ...], Field(max_length=MAX_ITEMS)] = ()
    recognised_on: date | None = None
    valid_until: date | None = None
    rule_ref: Text | None = None
    rule_set: Ident | None = None
    """The city's rule-set version the decision applied (``370100@1``)."""
    rule_id: Ident | None = None
    """The rule that recognised the person (``ed.long_term_unemployed``)."""
    conditions: Annotated[tuple[ConditionResult, ...], Field(max_length=MAX_ITEMS)] = ()
    """Every condition judged, with the value it read and the outcome."""
    facts: FactValues = FactValues()
    """The facts the decision read, as known when it was made."""

    _valid_after_start = field_validator("valid_until")(not_before("recognised_on"))


class PersonRecognitionRevoked(PersonPayload):
    """A recognition was revoked (wrongly recognised, or no longer applicable)."""

    target_group: TargetGroup
    reason: Text
    rule_set: Ident | None = None
    failed: Annotated[tuple[ConditionResult, ...], Field(max_length=MAX_ITEMS)] = ()
    """The conditions that no longer hold (a revocation by re-evaluation)."""
    facts: FactValues = FactValues()
    revoked_on: date | None = None


class PersonExited(PersonPayload):
    """A person left the assistance list (dynamic tracking and exit)."""

    reason: ExitReason
    exited_on: date | None = None
    note: Text | None = None


class HouseholdZeroEmploymentIdentified(EventPayload):
    """A zero-employment household (no working-age member employed) was identified."""

    AGGREGATE_FIELD = "household_id"

    household_id: Ident
    members_of_working_age: Positive
    identified_on: date | None = None
    deadline: date | None = None
    """The day by which at least one member should be in work (动态清零)."""


class HouseholdZeroEmploymentCleared(EventPayload):
    """A zero-employment household was cleared: at least one member is now employed."""

    AGGREGATE_FIELD = "household_id"

    household_id: Ident
    employed_members: Positive = 1
    cleared_on: date | None = None
    on_time: bool | None = None
    """Cleared on or before the household's deadline."""


class VisitRecorded(PersonPayload):
    """A case officer visited or contacted a person (regular visits)."""

    channel: VisitChannel
    visited_on: date
    needs: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    note: Text | None = None
    outcome: Literal["contacted", "not_reached"] = "contacted"


class ServiceDelivered(PersonPayload):
    """A basic employment service was delivered to a person."""

    service: ServiceKind
    delivered_on: date | None = None
    note: Text | None = None


class PlanAgreed(PersonPayload):
    """A one-person-one-plan assistance agreement was signed."""

    plan_id: Ident
    services: Annotated[tuple[ServiceKind, ...], Field(max_length=MAX_ITEMS)] = ()
    subsidies: Annotated[tuple[SubsidyKind, ...], Field(max_length=MAX_ITEMS)] = ()
    review_due: date | None = None
    version: Annotated[int, Field(ge=1, le=10_000)] = 1
    goals: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    measures: Annotated[tuple[PlanMeasure, ...], Field(max_length=MAX_ITEMS)] = ()


class ReferralMade(PersonPayload):
    """A person was referred to a vacancy or employer."""

    referral_id: Ident
    vacancy_id: Ident | None = None
    employer_uscc: Uscc | None = None
    employer_name: Text | None = None
    job_title: Text | None = None


class PlacementRecorded(PersonPayload):
    """An assisted person took up employment."""

    placement: PlacementKind
    started_on: date
    employer_uscc: Uscc | None = None
    employer_name: Text | None = None
    monthly_wage: Money | None = None


class TrainingEnrolled(PersonPayload):
    """A person enrolled in a vocational training course."""

    course_id: Ident
    course_name: Text | None = None
    provider: Text | None = None
    starts_on: date | None = None


class TrainingCompleted(PersonPayload):
    """A person finished a training course."""

    course_id: Ident
    passed: bool = True
    certificate: Text | None = None
    completed_on: date | None = None


class WelfarePostOpened(EventPayload):
    """A rural or urban public-welfare post was opened (its region is the county's)."""

    AGGREGATE_FIELD = "post_id"

    post_id: Ident
    title: Text
    slots: Positive = 1
    employer_name: Text | None = None
    monthly_allowance: Money | None = None
    village: Text | None = None
    """The village (or community) the post serves, as the county names it."""
    days_required: Annotated[int, Field(ge=1, le=31)] | None = None
    """The days a month of full attendance asks (the pay is in proportion below it)."""
    opened_on: date | None = None


class WelfarePostAssigned(PersonPayload):
    """A person was assigned to a public-welfare post: the approval of their application
    for the post's pay (``application_id``), for at most ``months`` from ``first_month``
    (the tenure left to them)."""

    post_id: Ident
    starts_on: date | None = None
    application_id: Ident | None = None
    first_month: YearMonth | None = None
    last_month: YearMonth | None = None
    months: Annotated[int, Field(ge=1, le=1200)] | None = None


class WelfarePostVacated(PersonPayload):
    """A person left a public-welfare post (the last month they held it; the pay stops
    after it)."""

    post_id: Ident
    reason: Text | None = None
    application_id: Ident | None = None
    last_month: YearMonth | None = None
    cause: Literal["officer", "tenure", "full", "ineligible"] | None = None
    """Why: an officer's decision, the tenure limit reached, the post's slots were taken
    before the person's seat, the person no longer eligible."""


class WelfarePostAttendanceRecorded(PersonPayload):
    """A month's attendance on a post and the pay it entitles (``amount``: the month's
    allowance in proportion to the days present, at most the full allowance)."""

    post_id: Ident
    application_id: Ident
    month: YearMonth
    days_present: Annotated[int, Field(ge=0, le=31)]
    days_required: Annotated[int, Field(ge=1, le=31)]
    amount: Money


class WelfarePostSeated(EventPayload):
    """The post gave an assigned person one of its slots (in the order assignments came)."""

    AGGREGATE_FIELD = "post_id"

    post_id: Ident
    person_id: PersonId
    application_id: Ident | None = None
    seated: Annotated[int, Field(ge=0, le=100000)]
    """The slots taken after it."""


class WelfarePostOverbooked(EventPayload):
    """An assignment came when every slot was taken: the person is vacated again."""

    AGGREGATE_FIELD = "post_id"

    post_id: Ident
    person_id: PersonId
    application_id: Ident | None = None
    slots: Positive


class WelfarePostReleased(EventPayload):
    """A slot was given back (its holder left the post)."""

    AGGREGATE_FIELD = "post_id"

    post_id: Ident
    person_id: PersonId
    seated: Annotated[int, Field(ge=0, le=100000)]


class LeadDiscovered(PersonPayload):
    """Active discovery: a possibly eligible person found in another department's data."""

    lead_id: Ident
    source: LeadSource
    suggested_target_group: TargetGroup | None = None
    facts: FactValues = FactValues()
    """What the other department's record says of the person (a low-income household …)."""
    record_on: date | None = None
    """The date of that record."""


class LeadContacted(PersonPayload):
    """A discovered lead was contacted."""

    lead_id: Ident
    channel: VisitChannel
    outcome: Text | None = None


class LeadConverted(PersonPayload):
    """A discovered lead was registered as an assistance target."""

    lead_id: Ident
    target_group: TargetGroup

"""Payloads of the money: a subsidy application's lifecycle (applied → checked → approved
or rejected → entitled month by month → paid → stopped, recovery ordered and recovered) and
what an application states besides the person's own facts (the job, the business, the
course, the loan, the rent, the contributions paid).

Every fact of an application is optional: it carries what its policy reads (a post subsidy
the hire, a loan its principal), and a condition on a fact not given fails as "not known",
as the recognition rules do. Every decision names the city's catalogue version it applied
(``370700@2``) and the policy, so it can be replayed as of its day.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from events.payload_base import (
    MAX_ITEMS,
    EventPayload,
    Ident,
    IsoDate,
    Masked,
    Money,
    PersonId,
    PersonPayload,
    Text,
    Uscc,
)
from events.payloads_cases import ConditionResult, FactValues
from events.vocabulary import PlacementKind, SubsidyKind, TargetGroup

__all__ = [
    "AccountRef",
    "ApplicationFacts",
    "BatchLine",
    "ContributionReported",
    "Evidence",
    "FraudConfirmed",
    "FraudDismissed",
    "FraudSuspected",
    "PaymentReported",
    "Recovery",
    "BatchResult",
    "PaymentBatchCreated",
    "PaymentBatchExported",
    "PaymentBatchReconciled",
    "ReconciledLine",
    "SubsidyApplied",
    "SubsidyApproved",
    "SubsidyChecked",
    "SubsidyEntitled",
    "SubsidyPaid",
    "SubsidyRecovered",
    "SubsidyRecoveryCancelled",
    "SubsidyRecoveryOrdered",
    "SubsidyRejected",
    "SubsidyStopped",
    "YearMonth",
]

Months = Annotated[StrictInt, Field(ge=0, le=1200)]
YearMonth = Annotated[str, StringConstraints(pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$")]
"""A month as ``YYYY-MM`` (an entitlement's, a payment's period)."""


def _feed_month(value: object) -> object:
    """A month as offices write it: ``2026-03``, ``2026-3``, ``202603``, ``2026年3月``,
    ``2026/03`` or a day of it (``2026-03-15``), as ``YYYY-MM``."""
    if not isinstance(value, str):
        return value
    text = value.strip().replace("年", "-").replace("月", "").replace("/", "-").replace(".", "-")
    if text.isdigit() and len(text) == 6:
        text = f"{text[:4]}-{text[4:]}"
    parts = text.split("-")
    if len(parts) in (2, 3) and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        return f"{parts[0]}-{int(parts[1]):02d}"
    return value


FeedMonth = Annotated[YearMonth, BeforeValidator(_feed_month)]
"""A month from an office's file, normalised to ``YYYY-MM`` (see :func:`_feed_month`)."""
AccountRef = Annotated[str, StringConstraints(pattern=r"^a_[0-9a-f]{32}$")]
"""A payee's bank account as its keyed pseudonym (the clear number never leaves the route)."""
#: The most lines one payment batch carries (a county's month is split into parts above it).
MAX_BATCH_LINES = 1000


class ApplicationFacts(BaseModel):
    """The facts an application adds to the person's for its policy's conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    employment_kind: PlacementKind | None = None
    """How the person works for the subsidy claimed (an enterprise's hire, flexible work,
    self-employment, a public-welfare post)."""
    employer_uscc: Uscc | None = None
    """The enterprise that hired the person (it is the payee of post and social-insurance
    subsidies for hires)."""
    hired_on: IsoDate | None = None
    contract_months: Months | None = None
    """The length of the labour contract signed."""
    contributions_monthly: Money | None = None
    """Social-insurance contributions paid for the person each month (what the
    social-insurance subsidy repays, within its cap)."""
    insured: StrictBool | None = None
    """Social insurance is paid for the person (the post and social-insurance subsidies)."""
    business_registered_on: IsoDate | None = None
    """The day the person's business (or self-employment) was registered."""
    course_id: Ident | None = None
    training_passed: StrictBool | None = None
    training_days: Annotated[StrictInt, Field(ge=0, le=3650)] | None = None
    loan_amount: Money | None = None
    """The principal of a guaranteed start-up loan."""
    loan_months: Months | None = None
    rent_monthly: Money | None = None
    """The venue rent the person pays each month (the venue-rent subsidy)."""
    post_id: Ident | None = None
    """The public-welfare post the person takes (its pay)."""

    def given(self) -> dict[str, object]:
        """The facts this application states (unset ones left out), JSON-typed."""
        return self.model_dump(exclude_none=True, mode="json")


class _SubsidyPayload(PersonPayload):
    """Fields shared by the subsidy lifecycle events."""

    application_id: Ident
    subsidy: SubsidyKind
    amount: Money | None = None


class SubsidyApplied(_SubsidyPayload):
    """A subsidy was applied for (by or for a person): the policy and what it states."""

    applied_on: date | None = None
    policy: Ident | None = None
    """The catalogue's policy applied for (``job_search_one_time``)."""
    facts: ApplicationFacts = ApplicationFacts()
    payee: Literal["person", "employer"] | None = None
    payee_account_ref: AccountRef | None = None
    """The account the money goes to, as its keyed pseudonym (one account for several
    unrelated persons is a fraud rule's evidence)."""
    payee_account_masked: Masked | None = None
    post_region: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    """A public-welfare post's county, as the post says (set by EAMS, not the applicant)."""
    post_opened_on: date | None = None
    """The day the post opened, as the post says: its pay begins no earlier."""


class SubsidyChecked(_SubsidyPayload):
    """The automatic eligibility check of an application, with every condition and the
    value it read, the failed ones and conflicts named, and the amount and months."""

    policy: Ident
    version: Ident
    """The city's catalogue version applied (``370700@2``)."""
    eligible: bool
    conditions: Annotated[tuple[ConditionResult, ...], Field(max_length=MAX_ITEMS)] = ()
    failed: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    months: Annotated[StrictInt, Field(ge=0, le=1200)] = 0
    first_month: YearMonth
    total: Money | None = None
    checked_on: date
    groups: Annotated[tuple[TargetGroup, ...], Field(max_length=8)] = ()
    """The groups the person was recognised in when checked."""
    facts: FactValues = FactValues()
    """The person's facts the check read, as known then."""


class SubsidyApproved(_SubsidyPayload):
    """An application was approved (by a second person: neither the person's officer nor
    the one who checked it): what it entitles to, from which month, for how many."""

    approved_on: date | None = None
    policy: Ident | None = None
    version: Ident | None = None
    months: Annotated[StrictInt, Field(ge=1, le=1200)] | None = None
    first_month: YearMonth | None = None
    total: Money | None = None


class SubsidyRejected(_SubsidyPayload):
    """An application was refused: not eligible (the failed conditions) or by the approver."""

    reason: Text
    failed: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    rejected_on: date


class SubsidyEntitled(_SubsidyPayload):
    """One month's (or the one-time) entitlement of an approved application fell due."""

    amount: Money
    """The month's entitlement (a later one for the same month replaces it: a correction)."""
    month: YearMonth
    version: Ident | None = None
    reason: Text | None = None
    """Why an entitlement was made again (a corrected fact)."""


class SubsidyPaid(_SubsidyPayload):
    """A subsidy was paid out."""

    amount: Money
    paid_on: date | None = None
    month: YearMonth | None = None
    """The entitlement's month the payment settles (none: a one-time batch of a playbook)."""
    batch_id: Ident | None = None


class SubsidyStopped(_SubsidyPayload):
    """No more months fall due (no longer eligible, a corrected fact, the person's request)."""

    reason: Text
    from_month: YearMonth
    failed: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()


class SubsidyRecoveryOrdered(_SubsidyPayload):
    """More was paid than is owed: a recovery order for the difference, saying why."""

    order_id: Ident
    amount: Money
    reason: Text
    failed: Annotated[tuple[Text, ...], Field(max_length=MAX_ITEMS)] = ()
    ordered_on: date
    fraud_case_id: Ident | None = None


class SubsidyRecoveryCancelled(_SubsidyPayload):
    """A recovery order asks back less (or nothing): a later correction found more owed to
    the person than the order assumed. Only what is not yet settled is cancelled."""

    order_id: Ident
    amount: Money
    """What the order no longer asks back."""
    reason: Text
    cancelled_on: date


class SubsidyRecovered(_SubsidyPayload):
    """A subsidy paid in error or by fraud was recovered (a recovery order settled)."""

    amount: Money
    reason: Text
    fraud_case_id: Ident | None = None
    order_id: Ident | None = None
    recovered_on: date | None = None


class BatchLine(BaseModel):
    """One payment of a batch: a month's entitlement of an application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: Annotated[StrictInt, Field(ge=1, le=MAX_BATCH_LINES)]
    person_id: PersonId
    application_id: Ident
    subsidy: SubsidyKind
    month: YearMonth
    amount: Money
    payee_account_ref: AccountRef | None = None
    payee_account_masked: Masked | None = None
    name_masked: Masked | None = None


class BatchResult(BaseModel):
    """What the bank's return file says of one line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: Annotated[StrictInt, Field(ge=1, le=MAX_BATCH_LINES)]
    outcome: Literal["paid", "failed"]
    amount: Money | None = None
    """What the bank paid (a paid line: the line's amount)."""
    paid_on: date | None = None
    reason: Text | None = None
    """Why the bank did not pay (a closed account, a name that does not match …)."""


class ReconciledLine(BatchResult):
    """A line's result as the batch recorded it: with the payment it settles."""

    person_id: PersonId
    application_id: Ident
    subsidy: SubsidyKind
    month: YearMonth


class _BatchPayload(EventPayload):
    batch_id: Ident

    def aggregate_key(self, region: str) -> str | None:
        """A payment batch is its own aggregate."""
        return self.batch_id


class PaymentBatchCreated(_BatchPayload):
    """A county's payment batch for a month: the entitlements due, a line each."""

    month: YearMonth
    part: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    lines: Annotated[tuple[BatchLine, ...], Field(min_length=1, max_length=MAX_BATCH_LINES)]
    count: Annotated[StrictInt, Field(ge=1, le=MAX_BATCH_LINES)]
    total: Money


class PaymentBatchExported(_BatchPayload):
    """The batch's file for the bank was produced (who and when is the envelope's)."""

    file_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    count: Annotated[StrictInt, Field(ge=1, le=MAX_BATCH_LINES)]
    total: Money


class PaymentBatchReconciled(_BatchPayload):
    """The bank's return file was matched to the batch: each line paid or failed."""

    file_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    results: Annotated[tuple[ReconciledLine, ...], Field(min_length=1, max_length=MAX_BATCH_LINES)]
    paid: Annotated[StrictInt, Field(ge=0, le=MAX_BATCH_LINES)]
    failed: Annotated[StrictInt, Field(ge=0, le=MAX_BATCH_LINES)]
    paid_total: Money
    complete: bool
    """Every line of the batch has a result now."""


class PaymentReported(PersonPayload):
    """A payment made outside EAMS's batches, as a county's own payment ledger (发放台账)
    records it (imported): evidence for the fraud rules, never a payment of an EAMS
    application."""

    subsidy: SubsidyKind
    month: FeedMonth
    """The period the payment was for."""
    amount: Money
    paid_on: date | None = None
    ledger: Ident | None = None
    """The ledger's or voucher's number."""


class ContributionReported(PersonPayload):
    """A month of social-insurance contributions paid for the person, as the
    social-insurance agency's records show it (imported): who paid them."""

    month: FeedMonth
    employer_uscc: Uscc | None = None
    """The enterprise that paid (none: paid as a flexible worker)."""
    employer_name: Text | None = None
    kind: Literal["enterprise", "flexible"] | None = None


class Evidence(BaseModel):
    """One fact a fraud rule found, with where it is in the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    what: Text
    person_id: PersonId | None = None
    application_id: Ident | None = None
    region: Annotated[str, StringConstraints(max_length=12)] | None = None
    month: YearMonth | None = None
    amount: Money | None = None
    event_id: UUID | None = None


class Recovery(BaseModel):
    """What a confirmed fraud case orders back from one application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_id: PersonId
    application_id: Ident
    amount: Money


class _FraudPayload(EventPayload):
    AGGREGATE_FIELD = "case_id"

    case_id: Ident


class FraudSuspected(_FraudPayload):
    """A fraud rule flagged a case (风险内控): the rule, the persons, what it found."""

    rule: Ident
    kind: Ident | None = None
    title: Text | None = None
    person_id: PersonId | None = None
    persons: Annotated[tuple[PersonId, ...], Field(max_length=MAX_ITEMS)] = ()
    application_id: Ident | None = None
    amount: Money | None = None
    """What is at risk (paid twice, paid after a death …)."""
    detail: Text | None = None
    evidence: Annotated[tuple[Evidence, ...], Field(max_length=MAX_ITEMS)] = ()
    recoveries: Annotated[tuple[Recovery, ...], Field(max_length=MAX_ITEMS)] = ()
    """What the rule proposes to order back when the case is confirmed."""
    found_on: date | None = None


class FraudConfirmed(_FraudPayload):
    """A suspected case was confirmed (with the reason): what is to be ordered back."""

    reason: Text | None = None
    amount_to_recover: Money | None = None
    recoveries: Annotated[tuple[Recovery, ...], Field(max_length=MAX_ITEMS)] = ()
    note: Text | None = None


class FraudDismissed(_FraudPayload):
    """A suspected case was dismissed, with the reason."""

    reason: Text | None = None
    note: Text | None = None

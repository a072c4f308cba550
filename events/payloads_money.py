"""What a subsidy application states besides the person's own facts: the job, the
business, the course, the loan, the rent, the contributions paid.

Every field is optional: an application carries what its policy reads (a post subsidy the
hire, a loan its principal), and a condition on a field not given fails as "not known", as
the recognition rules do.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from events.payload_base import Ident, IsoDate, Money, Uscc
from events.vocabulary import PlacementKind

__all__ = ["ApplicationFacts"]

Months = Annotated[StrictInt, Field(ge=0, le=1200)]


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

    def given(self) -> dict[str, object]:
        """The facts this application states (unset ones left out), JSON-typed."""
        return self.model_dump(exclude_none=True, mode="json")

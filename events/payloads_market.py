"""Payloads of the labour-market and emergency parts of the catalogue.

Labour market: layoffs (by unified social credit code, or by name for US WARN
notices), the monthly headcount of monitored enterprises, unemployment-insurance
claims and vacancies. Emergencies: disaster areas flagged, updated and cleared.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from events.payload_base import (
    Count,
    EventPayload,
    Ident,
    Money,
    PersonPayload,
    Positive,
    Text,
    Uscc,
    YearMonth,
    not_before,
)
from events.vocabulary import DisasterKind, Severity

__all__ = [
    "DisasterAreaCleared",
    "DisasterAreaFlagged",
    "DisasterAreaUpdated",
    "EnterpriseHeadcountReported",
    "LayoffReported",
    "UnemploymentClaimFiled",
    "VacancyReported",
]


class LayoffReported(EventPayload):
    """An enterprise reported (or a WARN notice announced) people laid off.

    Version 2; version 1 called the fields ``count``, ``company`` and ``credit_code``
    (see ``events.upcasting``). At least one of ``enterprise_uscc`` and
    ``enterprise_name`` is required; ``laid_off`` may not exceed ``headcount_before``.
    """

    VERSION = 2

    enterprise_uscc: Uscc | None = None
    enterprise_name: Text | None = None
    industry: Text | None = None
    headcount_before: Count | None = None
    laid_off: Count
    reason: Text | None = None
    notice_date: date | None = None
    effective_date: date | None = None

    @field_validator("laid_off")
    @classmethod
    def _within_headcount(cls, value: int, info: ValidationInfo) -> int:
        before = info.data.get("headcount_before")
        if before is not None and value > before:
            raise ValueError(f"laid_off ({value}) exceeds headcount_before ({before})")
        return value

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.enterprise_uscc is None and self.enterprise_name is None:
            raise ValueError("a layoff needs enterprise_uscc or enterprise_name")
        return self

    def aggregate_key(self, region: str) -> str | None:
        """Layoffs are keyed by the enterprise: its credit code, else its name."""
        return self.enterprise_uscc or self.enterprise_name


class EnterpriseHeadcountReported(EventPayload):
    """Monthly headcount of an enterprise in the employment-monitoring sample."""

    AGGREGATE_FIELD = "uscc"

    uscc: Uscc
    enterprise_name: Text | None = None
    industry: Text | None = None
    period: YearMonth
    base_headcount: Count
    current_headcount: Count


class UnemploymentClaimFiled(PersonPayload):
    """A person filed an unemployment-insurance claim."""

    claim_id: Ident | None = None
    filed_on: date | None = None
    insured_months: Count | None = None
    amount: Money | None = None


class VacancyReported(EventPayload):
    """An employer reported open positions."""

    AGGREGATE_FIELD = "vacancy_id"

    vacancy_id: Ident
    employer_uscc: Uscc | None = None
    employer_name: Text | None = None
    occupation: Text | None = None
    openings: Positive
    wage_min: Money | None = None
    wage_max: Money | None = None
    closes_on: date | None = None


RegionCode = Annotated[str, Field(min_length=1, max_length=16)]
#: A disaster may name every county of a large state (Texas has 254; the US 3,143).
MAX_REGIONS = 5000
RegionList = Annotated[tuple[RegionCode, ...], Field(min_length=1, max_length=MAX_REGIONS)]


class _DisasterAreaState(EventPayload):
    """Full state of a disaster area, carried by flagged and updated events."""

    AGGREGATE_FIELD = "disaster_id"

    disaster_id: Ident
    kind: DisasterKind
    severity: Severity
    title: Text
    regions: RegionList
    """Region codes of the affected area (checked against the reference at parse)."""
    period_start: date
    period_end: date | None = None

    _end_after_start = field_validator("period_end")(not_before("period_start"))


class DisasterAreaFlagged(_DisasterAreaState):
    """An area was flagged as hit by an epidemic, natural disaster or policy adjustment."""


class DisasterAreaUpdated(_DisasterAreaState):
    """A flagged disaster area changed (severity, regions or period); full new state."""


class DisasterAreaCleared(EventPayload):
    """A disaster area was cleared; an empty ``regions`` means all of its regions."""

    AGGREGATE_FIELD = "disaster_id"

    disaster_id: Ident
    period_end: date
    regions: Annotated[tuple[RegionCode, ...], Field(max_length=MAX_REGIONS)] = ()
    note: Text | None = None

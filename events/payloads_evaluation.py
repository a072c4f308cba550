"""Payloads of the performance evaluation (绩效评价): a period's evaluation frozen at its
end, every region's counts, values, scores, total and rank with the indicator table it
applied, so the figures sent on can be shown again and computed again as of that instant."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.payload_base import EventPayload, Ident, Text

__all__ = ["EvaluationFrozen", "IndicatorScore", "RegionScore"]

Figure = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4)]


class IndicatorScore(BaseModel):
    """One indicator of one region: what was counted, the value and the score (none: there
    was nothing to count, and its weight went to the others)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numerator: Figure
    denominator: Figure
    value: Figure | None = None
    score: Figure | None = None


class RegionScore(BaseModel):
    """One region's evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    level: Literal["province", "city", "county"]
    indicators: Annotated[dict[Ident, IndicatorScore], Field(max_length=30)]
    total: Figure | None = None
    rank: Annotated[int, Field(ge=1, le=10_000)] | None = None


class EvaluationFrozen(EventPayload):
    """A period's evaluation frozen: the table, the period, the instant it was computed as
    of, and every region's figures."""

    AGGREGATE_FIELD = "evaluation_id"

    evaluation_id: Ident
    table: Ident
    """The indicator table and its checksum (``shandong-assistance@3f2a…``)."""
    title: Text
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}(-(Q[1-4]|H[12]|\d{2}))?$")]
    start: date
    end: date
    as_of: AwareDatetime
    positions: Annotated[
        tuple[Annotated[int, Field(ge=0, le=2**63 - 1)], ...], Field(max_length=1024)
    ] = ()
    """The log's next offset per partition (index = partition) the figures were read below:
    computed again with them, the period gives the same figures after any rebuild."""
    scores: Annotated[tuple[RegionScore, ...], Field(min_length=1, max_length=1000)]
    """Every region's figures (the province, its cities, their counties)."""

"""IndicatorHistory: past days are cached until the projector says they were revised."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import alerting.series as series
from alerting.series import IndicatorHistory
from events.regions import load_reference

TODAY = dt.date(2026, 12, 2)


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[dt.date]:
    """The days the indicators were computed for (the store is not touched)."""
    days: list[dt.date] = []

    def compute(store: Any, reference: Any, day: dt.date, *, historical: bool = False) -> Any:
        days.append(day)
        return {"claims_28d": {"370100": float(len(days))}}

    monkeypatch.setattr(series, "compute", compute)
    monkeypatch.setattr(series, "risk_index", lambda values, components: {})
    return days


def history() -> IndicatorHistory:
    return IndicatorHistory(None, load_reference(), (), ttl=None)  # type: ignore[arg-type]


def test_past_days_are_computed_once(computed: list[dt.date]) -> None:
    h = history()
    week_ago = TODAY - dt.timedelta(days=7)
    first = h.at(week_ago, TODAY)
    assert h.at(week_ago, TODAY) is first
    assert computed == [week_ago]


def test_a_revision_drops_the_days_it_changes_and_no_others(computed: list[dt.date]) -> None:
    h = history()
    days = [TODAY - dt.timedelta(days=n) for n in (30, 10, 3)]
    for day in days:
        h.at(day, TODAY)
    h.revise(TODAY - dt.timedelta(days=10))  # a backfill wrote events from 10 days ago on
    for day in days:
        h.at(day, TODAY)
    assert computed == [*days, days[1], days[2]]  # 30 days ago is still the cached one


def test_a_day_computed_across_a_revision_is_not_kept(
    computed: list[dt.date], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = history()
    day = TODAY - dt.timedelta(days=5)
    plain = series.compute

    def racing(store: Any, reference: Any, d: dt.date, *, historical: bool = False) -> Any:
        h.revise(d)  # the projector writes while the evaluator's thread computes
        return plain(store, reference, d, historical=historical)

    monkeypatch.setattr(series, "compute", racing)
    h.at(day, TODAY)
    monkeypatch.setattr(series, "compute", plain)
    h.at(day, TODAY)
    assert computed == [day, day]  # computed again: the first answer may predate the write
    h.at(day, TODAY)
    assert computed == [day, day]

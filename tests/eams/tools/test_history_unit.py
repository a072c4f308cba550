"""The seeded history: reproducible by (seed, city, day), newest day first, seasonal, and
calm enough in normal times that none of the default rules that compare with the past
enters a level (checked here on its counts, as the indicators compute them)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from eams.tools.history import (
    DAILY,
    DEFAULT_DAYS,
    WHOLE_PRIOR_YEARS,
    History,
    HistoryConfig,
    prior_years_warning,
    season,
    spring_festival,
)
from events.envelope import parse_event
from events.regions import RegionReference, load_reference

END = dt.date(2026, 8, 1)  # the window holds the Spring Festival (17 Feb) and July
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """The Shandong reference."""
    return load_reference("shandong")


@pytest.fixture(scope="module")
def history(ref: RegionReference) -> History:
    """200 days ending on 31 July 2026."""
    return History(ref, HistoryConfig(seed=7, days=200, end=END))


@pytest.fixture(scope="module")
def events(history: History) -> list[dict[str, Any]]:
    """Its events, in order."""
    return list(history)


def _day(event: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(event["occurred_at"][:10])


def test_same_seed_same_events_and_len_counts_them(
    ref: RegionReference, history: History, events: list[dict[str, Any]]
) -> None:
    assert len(history) == len(events) > 30_000
    assert len({e["event_id"] for e in events}) == len(events)
    short = HistoryConfig(seed=7, days=30, end=END)
    assert list(History(ref, short)) == list(History(ref, short))
    other = History(ref, HistoryConfig(seed=8, days=30, end=END))
    assert not {e["event_id"] for e in other} & {e["event_id"] for e in events}


def test_newest_day_first_whole_days_before_end(events: list[dict[str, Any]]) -> None:
    days = [_day(e) for e in events]
    assert days[0] == END - DAY and days[-1] == END - 200 * DAY
    assert all(a >= b for a, b in zip(days, days[1:], strict=False))
    assert len(set(days)) == 200
    for a, b in zip(events, events[1:], strict=False):  # within a day, in time order
        if _day(a) == _day(b):
            assert a["occurred_at"] <= b["occurred_at"]


def test_a_day_is_the_same_whatever_window_holds_it(ref: RegionReference) -> None:
    longer = History(ref, HistoryConfig(seed=7, days=150, end=END))
    shifted = History(ref, HistoryConfig(seed=7, days=120, end=END + 10 * DAY))
    overlap = {END - i * DAY for i in range(1, 111)}
    a = [e for e in longer if _day(e) in overlap]
    b = [e for e in shifted if _day(e) in overlap]
    assert {e["event_id"] for e in a} == {e["event_id"] for e in b}
    # a service or claim is for someone registered up to 90 days before, in the window:
    # from 90 days after both windows began, the days are equal event for event
    settled = shifted.first + 90 * DAY
    assert [e for e in a if _day(e) >= settled] == [e for e in b if _day(e) >= settled]


def test_every_event_parses_and_people_served_were_registered(
    ref: RegionReference, events: list[dict[str, Any]]
) -> None:
    for i, event in enumerate(events[::37]):
        envelope = parse_event(event, reference=ref, line=i + 1)
        assert str(envelope.event_id) == event["event_id"]
    registered = {
        e["payload"]["national_id"] for e in events if e["event_type"] == "person.registered"
    }
    served = [
        e for e in events if e["event_type"] in ("service.delivered", "unemployment_claim.filed")
    ]
    assert served and all(e["payload"]["national_id"] in registered for e in served)
    by_type = Counter(e["event_type"] for e in events)
    assert set(by_type) == {
        "person.registered", "service.delivered", "unemployment_claim.filed",
        "vacancy.reported", "layoff.reported", "enterprise.headcount_reported",
    }  # fmt: skip


def test_monitored_enterprises_report_monthly_for_the_month_before(
    ref: RegionReference, events: list[dict[str, Any]]
) -> None:
    reports = [e for e in events if e["event_type"] == "enterprise.headcount_reported"]
    counties = [c for c in ref.counties() if not c.is_statistical_zone]
    by_enterprise = Counter(e["payload"]["uscc"] for e in reports)
    assert len(by_enterprise) == 2 * len(counties)
    assert set(by_enterprise.values()) <= {6, 7}  # 200 days: six or seven months
    for e in reports[:50]:
        p = e["payload"]
        month_before = (_day(e).replace(day=1) - DAY).strftime("%Y-%m")
        assert p["period"] == month_before
        assert 0.0 < 1 - p["current_headcount"] / p["base_headcount"] < 0.015


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, as the indicator reads it
        return day.replace(year=day.year - years, day=28)


def _sum(h: History, series: str, city: str, last: dt.date, days: int) -> int:
    return sum(h.count(series, city, last - i * DAY) for i in range(days))


def test_counts_in_a_window_are_within_two_of_the_expected(history: History) -> None:
    # the noise cancels within a calendar week, the sampling is systematic: a window of
    # whole weeks holds what the seasons make of it, to one (two across a New Year)
    monday = dt.date(2026, 3, 2)
    for city in ("370500", "371300"):
        for series in DAILY:
            mean = DAILY[series] * history.share[city]
            days = [monday + i * DAY for i in range(28)]
            expected = sum(mean * season(series, d) for d in days)
            got = sum(history.count(series, city, d) for d in days)
            assert abs(got - expected) < 2, (city, series, got, expected)


def test_the_seasons(history: History) -> None:
    sf = spring_festival(2026)
    assert sf == dt.date(2026, 2, 17)
    linyi = "371300"

    def week(series: str, first: dt.date) -> int:
        return _sum(history, series, linyi, first + 6 * DAY, 7)

    may = dt.date(2026, 5, 11)
    assert week("service", sf - DAY) < 0.2 * week("service", may)  # offices closed
    assert week("claim", sf - DAY) > 0.8 * week("claim", may)  # filed online
    assert week("rural_surplus_labour", sf + 14 * DAY) > 1.8 * week("rural_surplus_labour", may)
    july = dt.date(2026, 7, 2)
    assert week("low_income_graduate", july) > 2.2 * week("low_income_graduate", may)
    assert week("vacancy", sf + 18 * DAY) > 1.4 * week("vacancy", may)
    weekdays = sum(history.count("service", linyi, may + i * DAY) for i in range(5))
    weekend = sum(history.count("service", linyi, may + i * DAY) for i in (5, 6))
    assert weekend < 0.2 * weekdays


def test_normal_times_stay_below_the_default_rules(ref: RegionReference) -> None:
    """Two years of every city, judged as the default rules judge them: temporary-assistance
    registrations against the 4 weeks before (IV enters at 1.5), claims of 28 days against
    the same days of the two earlier years (IV at 1.2); with a margin."""
    h = History(ref, HistoryConfig(seed=11, days=DEFAULT_DAYS, end=dt.date(2026, 12, 1)))
    worst_surge = worst_claims = 0.0
    for city in (c.code for c in ref.cities()):
        for i in range(0, 730, 3):
            today = h.end - i * DAY
            now = _sum(h, "temporary_assistance", city, today, 7)
            prior = [
                _sum(h, "temporary_assistance", city, today - 7 * k * DAY, 7) for k in (1, 2, 3, 4)
            ]
            worst_surge = max(worst_surge, now / (sum(prior) / 4))
            claims = _sum(h, "claim", city, today, 28)
            years = [_sum(h, "claim", city, _years_back(today, y), 28) for y in (1, 2)]
            worst_claims = max(worst_claims, claims / (sum(years) / 2))
    assert worst_surge < 1.4
    assert worst_claims < 1.12


def test_layoffs_vacancies_and_job_loss_stay_below_the_default_rules(
    ref: RegionReference, history: History, events: list[dict[str, Any]]
) -> None:
    laid_off: Counter[tuple[str, dt.date]] = Counter()
    for e in events:
        if e["event_type"] == "layoff.reported":
            assert e["payload"]["laid_off"] < 200  # no concentrated layoff
            laid_off[(e["region"], _day(e))] += e["payload"]["laid_off"]
    county_week = max(
        sum(laid_off[(county, day + k * DAY)] for k in range(7)) for county, day in laid_off
    )
    assert county_week < 50  # the county rule's IV
    openings: Counter[tuple[str, dt.date]] = Counter()
    registrations: Counter[tuple[str, dt.date]] = Counter()
    for e in events:
        city = ref.city_of(e["region"]) or ""
        if e["event_type"] == "vacancy.reported":
            openings[(city, _day(e))] += e["payload"]["openings"]
        elif e["event_type"] == "person.registered":
            registrations[(city, _day(e))] += 1
    for city in (c.code for c in ref.cities()):
        for i in range(28, 200):
            last = history.first + i * DAY
            window = [last - k * DAY for k in range(28)]
            ratio = sum(registrations[(city, d)] for d in window) / sum(
                openings[(city, d)] for d in window
            )
            assert ratio < 0.7, (city, last, ratio)  # applicants per vacancy: IV at 1.0


def test_a_partial_prior_year_is_named() -> None:
    for days in (0, 60, 364, WHOLE_PRIOR_YEARS, DEFAULT_DAYS):
        assert prior_years_warning(days) is None
    for days in (365, 730, WHOLE_PRIOR_YEARS - 1):
        warning = prior_years_warning(days)
        assert warning is not None and f"{days} days" in warning and "758" in warning


def test_negative_days_are_refused(ref: RegionReference) -> None:
    with pytest.raises(ValueError, match="-1"):
        History(ref, HistoryConfig(days=-1))

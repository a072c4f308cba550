"""The evaluator's derived series (ratio to a baseline period, rise over the trailing low),
with the indicator computation replaced by a table of values per day: no store, no broker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import alerting.series as series_module
from alerting.evaluator import Evaluator
from alerting.indicator_names import INDICATOR_NAMES
from alerting.rules import load_rules_text
from alerting.series import trailing_days
from events.clock import SHANGHAI
from events.regions import load_reference
from projections.risk_index import DEFAULT_COMPONENTS

RULES = """rules:
  - id: temp-vs-last-weeks
    title: 临时援助登记 / Temporary-assistance registrations
    indicator: registrations_temporary_assistance_7d
    kind: ratio_to_baseline
    baseline: {period: week, periods_back: 2}
    scope: {level: city}
    levels:
      IV: {enter: 1.5, exit: 1.3}
      II: {enter: 3, exit: 2.5}
  - id: job-loss-rise
    title: 岗位流失率上升 / Job-loss rate rise
    indicator: job_loss_rate
    kind: rise_over_low
    low_window: 12mo
    scope: {level: city}
    levels:
      IV: {enter: 0.5, exit: 0.3}
"""
NOW = dt.datetime(2026, 7, 20, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def evaluator(monkeypatch: pytest.MonkeyPatch) -> Evaluator:
    per_day = {
        NOW.date(): {"371300": 30.0, "370100": 5.0},
        NOW.date() - dt.timedelta(days=7): {"371300": 8.0, "370100": 5.0},
        NOW.date() - dt.timedelta(days=14): {"371300": 12.0},
    }

    job_loss = {NOW.date(): {"371300": 4.0, "370100": 3.0}}
    for day in trailing_days(NOW.date(), dt.timedelta(days=365)):
        job_loss[day] = {"371300": 3.6 if day.month == 3 else 3.9}  # 370100: no history

    def fake_compute(
        store: Any, reference: Any, day: dt.date, historical: bool = False
    ) -> dict[str, Any]:
        calls.append((day, historical))
        return {
            "registrations_temporary_assistance_7d": dict(per_day.get(day, {})),
            "job_loss_rate": dict(job_loss.get(day, {})),
        }

    calls: list[tuple[dt.date, bool]] = []
    monkeypatch.setattr(series_module, "compute", fake_compute)
    reference = load_reference("shandong")
    rules = load_rules_text(RULES, "t.yaml", indicators=INDICATOR_NAMES, reference=reference)
    return Evaluator(store=None, reference=reference, rules=rules,  # type: ignore[arg-type]
                     components=DEFAULT_COMPONENTS, sender=None,  # type: ignore[arg-type]
                     topic_names=None, now=lambda: NOW)  # type: ignore[arg-type]  # fmt: skip


async def test_ratio_to_baseline_divides_by_the_mean_of_earlier_periods(
    evaluator: Evaluator,
) -> None:
    values = await evaluator.indicator_values(NOW)
    series = values["rule:temp-vs-last-weeks"]
    assert series["371300"] == pytest.approx(30 / ((8 + 12) / 2))  # 3.0: level II
    assert series["370100"] == pytest.approx(5 / (5 / 2))  # one zero week counts as zero
    assert "370200" not in series  # no baseline at all: no data, not zero
    assert values["registrations_temporary_assistance_7d"]["371300"] == 30.0


async def test_rise_over_low_subtracts_the_lowest_value_of_the_trailing_window(
    evaluator: Evaluator,
) -> None:
    values = await evaluator.indicator_values(NOW)
    series = values["rule:job-loss-rise"]
    assert series["371300"] == pytest.approx(4.0 - 3.6)  # the March low, not today's value
    assert "370100" not in series  # no history: no trailing low, no data


def test_trailing_windows_are_sampled_on_a_shared_grid() -> None:
    today = dt.date(2026, 7, 20)
    short = trailing_days(today, dt.timedelta(days=28))
    assert short[0] == today - dt.timedelta(days=28) and short[-1] == today - dt.timedelta(days=1)
    assert len(short) == 28
    year = trailing_days(today, dt.timedelta(days=365))
    assert all(d.toordinal() % 7 == 0 for d in year) and today not in year
    assert 52 <= len(year) <= 53 and year[0] >= today - dt.timedelta(days=365)
    # the next day's window reuses the same sample days (one cache serves both)
    nxt = trailing_days(today + dt.timedelta(days=1), dt.timedelta(days=365))
    assert len(set(year) & set(nxt)) >= len(year) - 1


async def test_past_days_are_computed_once_per_cache_period(
    evaluator: Evaluator,
) -> None:
    calls = evaluator.history
    await evaluator.indicator_values(NOW)
    first = calls.computed
    await evaluator.indicator_values(NOW)
    assert calls.computed == first + 1  # only today again; past days come from the cache

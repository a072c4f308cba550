"""The evaluator's derived series (ratio to a baseline period), with the indicator
computation replaced by a table of values per day: no store, no broker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import alerting.evaluator as evaluator_module
from alerting.evaluator import Evaluator
from alerting.indicator_names import INDICATOR_NAMES
from alerting.rules import load_rules_text
from events.envelope import SHANGHAI
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
"""
NOW = dt.datetime(2026, 7, 20, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def evaluator(monkeypatch: pytest.MonkeyPatch) -> Evaluator:
    per_day = {
        NOW.date(): {"371300": 30.0, "370100": 5.0},
        NOW.date() - dt.timedelta(days=7): {"371300": 8.0, "370100": 5.0},
        NOW.date() - dt.timedelta(days=14): {"371300": 12.0},
    }

    def fake_compute(store: Any, reference: Any, day: dt.date) -> dict[str, Any]:
        return {"registrations_temporary_assistance_7d": dict(per_day.get(day, {}))}

    monkeypatch.setattr(evaluator_module, "compute", fake_compute)
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

"""What each rule judges at one moment: the indicators, plus the series a rule kind derives.

One implementation serves the live evaluator and ``eams rules backtest``, so a backtest
replays every rule kind exactly as it would have been judged:

- ``absolute``: the indicator itself;
- ``ratio_to_baseline``: the indicator over the mean of the same indicator ``periods_back``
  periods earlier (no baseline, no ratio: that region has no data);
- ``rise_over_low``: the indicator minus its lowest value over the trailing ``low_window``
  (Sahm-style: +0.5 point over the 12-month low). The trailing low is read from the
  indicator as of past days: every day for windows up to 31 days, otherwise every 7th day
  on a fixed calendar grid (so consecutive evaluations share the samples); today is not
  part of its own low;
- ``data_gap``: days since ``source`` was last seen, divided by the ``cadence``.

Past days are cached (:class:`IndicatorHistory`); the projector says from which day each
batch it writes revises the past (:meth:`IndicatorHistory.revise`: a late report, a
backfill, an imported history), and live the cache also expires after ``ttl`` seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from alerting.rules import Rule
from events.regions import RegionReference
from projections.client import Store
from projections.indicators import Values, compute, last_report_age_days
from projections.risk_index import Component, risk_index

PERIOD_DAYS = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "month": dt.timedelta(days=30),
    "year": dt.timedelta(days=365),
}
#: Longest window sampled every day; longer trailing windows are sampled every 7th day.
DAILY_SAMPLES_UP_TO = dt.timedelta(days=31)
SAMPLE_STEP_DAYS = 7


class IndicatorHistory:
    """Every indicator (and the risk index) as of the end of a day, cached.

    ``today`` is always computed afresh with the current disaster state unless
    ``historical``; past days use the disaster state as it stood then. ``ttl`` (seconds)
    bounds how long a past day is reused; ``None`` keeps it for the object's life (a
    backtest)."""

    def __init__(
        self,
        store: Store,
        reference: RegionReference,
        components: tuple[Component, ...],
        *,
        historical: bool = False,
        ttl: float | None = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.reference = reference
        self.components = components
        self.historical = historical
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[dt.date, tuple[float, Values]] = {}
        self._revisions = 0  # bumps on every revise(): a day computed across one is not kept
        self.computed = 0

    def revise(self, since: dt.date) -> None:
        """Events of ``since`` or later were projected: forget the days they change. Called
        on the event loop while :meth:`at` may run in a worker thread, hence the counter."""
        self._revisions += 1
        for day in [d for d in self._cache if d >= since]:
            self._cache.pop(day, None)

    def at(self, day: dt.date, today: dt.date) -> Values:
        """Indicators as of the end of ``day``; ``today`` is the evaluation's date."""
        now = self.clock()
        hit = self._cache.get(day)
        fresh = hit is not None and (self.ttl is None or now - hit[0] < self.ttl)
        if hit is not None and fresh and (day < today or self.historical):
            return hit[1]
        revisions = self._revisions
        values = compute(self.store, self.reference, day, historical=self.historical or day < today)
        values["risk_index"] = risk_index(values, self.components)
        self.computed += 1
        if revisions == self._revisions:  # else the store changed under it: compute again
            self._cache[day] = (now, values)
        if len(self._cache) > 1200:  # a long backtest: drop the oldest days first
            for old in sorted(self._cache)[:200]:
                del self._cache[old]
        return values


def trailing_days(today: dt.date, window: dt.timedelta) -> list[dt.date]:
    """The past days whose values make up the trailing low of ``window`` before ``today``."""
    first = today - dt.timedelta(days=max(1, window.days))
    if window <= DAILY_SAMPLES_UP_TO:
        return [first + dt.timedelta(days=i) for i in range((today - first).days)]
    days = []
    day = first + dt.timedelta(days=(-first.toordinal()) % SAMPLE_STEP_DAYS)
    while day < today:
        days.append(day)
        day += dt.timedelta(days=SAMPLE_STEP_DAYS)
    return days


def rule_values(
    rules: tuple[Rule, ...],
    now: dt.datetime,
    history: IndicatorHistory,
    gap_ages: Callable[[str, dt.datetime], dict[str, float]] | None = None,
) -> Values:
    """The indicators as of ``now`` plus one derived series per rule whose kind needs one
    (key ``rule:<id>``)."""
    today = now.date()
    values = dict(history.at(today, today))
    if gap_ages is None:

        def gap_ages(source: str, at: dt.datetime) -> dict[str, float]:
            return last_report_age_days(history.store, history.reference, source, at)

    for rule in rules:
        key = f"rule:{rule.id}"
        current = values.get(rule.indicator, {})
        if rule.kind == "data_gap" and rule.source and rule.cadence:
            cadence_days = rule.cadence.total_seconds() / 86400
            values[key] = {k: v / cadence_days for k, v in gap_ages(rule.source, now).items()}
        elif rule.kind == "ratio_to_baseline" and rule.baseline is not None:
            prior: dict[str, float] = {}
            for k in range(1, rule.baseline.periods_back + 1):
                day = today - PERIOD_DAYS[rule.baseline.period] * k
                for region, v in history.at(day, today).get(rule.indicator, {}).items():
                    prior[region] = prior.get(region, 0.0) + v
            n = rule.baseline.periods_back
            values[key] = {
                region: current.get(region, 0.0) / (total / n)
                for region, total in prior.items()
                if total > 0  # no baseline, no ratio: the rule sees no data there
            }
        elif rule.kind == "rise_over_low" and rule.low_window is not None:
            low: dict[str, float] = {}
            for day in trailing_days(today, rule.low_window):
                for region, v in history.at(day, today).get(rule.indicator, {}).items():
                    low[region] = min(v, low.get(region, v))
            values[key] = {
                region: value - low[region] for region, value in current.items() if region in low
            }
    return values

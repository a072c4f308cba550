"""``eams rules backtest``: replay history day by day through the rules.

For each day of the range the indicators are computed as of the end of that day (rolling
windows end there; disaster-area state from the flags and clears up to that day), and each
(rule, region) series goes through the same state machine the evaluator uses. The result
says which alerts would have fired, changed level or resolved, and when. Every rule kind
is replayed with the same derived series the evaluator uses (:mod:`alerting.series`):
baselines and trailing lows read the indicators as of the earlier days, data gaps the
reports seen up to each day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from alerting.engine import backtest
from alerting.evaluator import ZERO_WHEN_ABSENT, scope_regions
from alerting.rules import RuleSet
from alerting.series import IndicatorHistory, rule_values
from events.clock import SHANGHAI
from events.regions import RegionReference
from projections.client import Store
from projections.indicators import Values
from projections.risk_index import Component

MAX_DAYS = 800
#: The days a backtest may cover: ClickHouse's ``Date`` runs from 1970-01-01 to 2149-06-06,
#: and baselines look back a year before ``start``.
EARLIEST, LATEST = dt.date(1971, 1, 1), dt.date(2149, 6, 6)


def run_backtest(
    store: Store,
    reference: RegionReference,
    rules: RuleSet,
    components: tuple[Component, ...],
    start: dt.date,
    end: dt.date,
    rule_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every transition the rules would have produced between ``start`` and ``end``."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    if start < EARLIEST or end > LATEST:
        raise ValueError(f"--from and --to must lie between {EARLIEST} and {LATEST}")
    if (end - start).days > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per backtest; narrow --from/--to")
    selected = [r for r in rules.rules if rule_id in (None, r.id)]
    if rule_id is not None and not selected:
        raise ValueError(f"no rule {rule_id!r}; see `eams rules lint`")
    history = IndicatorHistory(store, reference, components, historical=True, ttl=None)
    days: list[tuple[dt.datetime, Values]] = []
    day = start
    while day <= end:
        at = dt.datetime.combine(day, dt.time(23, 59, 59), SHANGHAI)
        days.append((at, rule_values(tuple(selected), at, history)))
        if progress is not None:
            progress((day - start).days + 1, (end - start).days + 1)
        day += dt.timedelta(days=1)
    out: list[dict[str, Any]] = []
    for rule in selected:
        derived = f"rule:{rule.id}"
        plain = rule.kind == "absolute" and rule.indicator in ZERO_WHEN_ABSENT
        absent = 0.0 if plain else None
        for region in scope_regions(rule, reference):
            series = [
                (at, v.get(derived, v.get(rule.indicator, {})).get(region, absent))
                for at, v in days
            ]
            for t in backtest(rule, series):
                if t.kind == "pending":
                    continue
                out.append({
                    "at": t.at.isoformat(), "kind": t.kind, "rule": rule.id, "region": region,
                    "level": t.level, "previous_level": t.previous_level, "value": t.value,
                    "threshold": t.threshold,
                })  # fmt: skip
    out.sort(key=lambda r: (r["at"], r["rule"], r["region"]))
    return out

"""``eams rules backtest``: replay history day by day through the rules.

For each day of the range the indicators are computed as of the end of that day (rolling
windows end there; disaster-area state from the flags and clears up to that day), and each
(rule, region) series goes through the same state machine the evaluator uses. The result
says which alerts would have fired, changed level or resolved, and when. Rules of the
absolute kind are replayed; the other kinds are evaluated live only (for now).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alerting.engine import backtest
from alerting.evaluator import ZERO_WHEN_ABSENT, scope_regions
from alerting.rules import RuleSet
from events.envelope import SHANGHAI
from events.regions import RegionReference
from projections.client import Store
from projections.indicators import Values, compute
from projections.risk_index import Component, risk_index

MAX_DAYS = 800


def run_backtest(
    store: Store,
    reference: RegionReference,
    rules: RuleSet,
    components: tuple[Component, ...],
    start: dt.date,
    end: dt.date,
    rule_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every transition the rules would have produced between ``start`` and ``end``."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    if (end - start).days > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days per backtest; narrow --from/--to")
    selected = [r for r in rules.rules if rule_id in (None, r.id)]
    if rule_id is not None and not selected:
        raise ValueError(f"no rule {rule_id!r}; see `eams rules lint`")
    days: list[tuple[dt.datetime, Values]] = []
    day = start
    while day <= end:
        values = compute(store, reference, day, historical=True)
        values["risk_index"] = risk_index(values, components)
        at = dt.datetime.combine(day, dt.time(23, 59, 59), SHANGHAI)
        days.append((at, values))
        day += dt.timedelta(days=1)
    out: list[dict[str, Any]] = []
    for rule in selected:
        if rule.kind != "absolute":
            continue  # gaps, baselines and trailing lows are evaluated live, not replayed yet
        absent = 0.0 if rule.indicator in ZERO_WHEN_ABSENT else None
        for region in scope_regions(rule, reference):
            series = [(at, v.get(rule.indicator, {}).get(region, absent)) for at, v in days]
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

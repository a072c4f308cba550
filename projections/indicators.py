"""Risk indicators per region, computed from the projections (DESIGN.md, Risk monitoring).

Every indicator is computed for each county-level region that has data, then rolled up
county -> city -> province: counts are summed, ratios are recomputed from the summed parts
(never averaged), disaster-area severity takes the most severe. Higher is always worse, so
one threshold direction serves every rule (the vacancy ratio is expressed as applicants per
vacancy for that reason).

| indicator | meaning |
|---|---|
| people_laid_off_7d | people laid off, rolling 7 days |
| people_laid_off_7d_per_million | the same per million residents (regions with a population) |
| concentrated_layoffs_7d | layoff reports of 200+ people at one enterprise, rolling 7 days |
| registrations_temporary_assistance_7d | new temporary-assistance registrations, rolling 7 days |
| registrations_7d | new registrations of every target group, rolling 7 days |
| claims_28d | unemployment-insurance claims, rolling 28 days |
| claims_vs_prior_years | claims_28d / mean of the same 28 days one and two years earlier |
| applicant_to_vacancy_ratio | registrations / vacancy openings, rolling 28 days |
| job_loss_rate | % of base headcount lost at monitored enterprises (latest report each) |
| zero_employment_households_open | zero-employment households not yet cleared |
| welfare_post_slots | slots of the public-welfare posts open (posts are advertised: not people) |
| welfare_post_holders | people holding a public-welfare post now (slots taken) |
| disaster_area | most severe active disaster flag: 0 none, 1 IV … 4 I |
| risk_index | composite 0-100 (:mod:`projections.risk_index`) |
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from events.regions import RegionReference
from events.severity import LEVELS, rank
from projections.client import Store, aware

Values = dict[str, dict[str, float]]  # indicator -> region code -> value

#: Level -> its rank on the scale (IV 1 … I 4), as the ``disaster_area`` indicator counts;
#: read from ``events.severity`` for callers that still look levels up here.
SEVERITY_NUMBER: dict[str, int] = {str(lv.name): lv.rank for lv in LEVELS}
SUMMED = (
    "people_laid_off_7d",
    "concentrated_layoffs_7d",
    "registrations_temporary_assistance_7d",
    "registrations_7d",
    "claims_28d",
    "zero_employment_households_open",
    "welfare_post_slots",
    "welfare_post_holders",
)


def _ancestors(reference: RegionReference, code: str) -> list[str]:
    return [code] + [r.code for r in reference.ancestors(code)]


def _roll_sum(reference: RegionReference, per_region: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for code, value in per_region.items():
        for target in _ancestors(reference, code):
            out[target] += value
    return dict(out)


def _roll_max(reference: RegionReference, per_region: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for code, value in per_region.items():
        for target in _ancestors(reference, code):
            out[target] = max(out.get(target, 0.0), value)
    return out


def _ratio(num: dict[str, float], den: dict[str, float]) -> dict[str, float]:
    return {k: num.get(k, 0.0) / d for k, d in den.items() if d > 0}


def _known(reference: RegionReference, rows: Iterable[tuple[Any, ...]]) -> list[tuple[str, float]]:
    """(region, value) rows whose region the reference knows."""
    return [(str(r[0]), float(r[1] or 0)) for r in rows if reference.get(str(r[0])) is not None]


def compute(
    store: Store, reference: RegionReference, today: dt.date, *, historical: bool = False
) -> Values:
    """Every indicator for every region with data, as of ``today`` (inclusive).

    ``historical`` computes the disaster-area state as it was at the end of ``today`` from
    the flags and clears in the log (for backtests) instead of the current state."""
    d7 = today - dt.timedelta(days=6)
    d28 = today - dt.timedelta(days=27)
    facts = store.rows(
        "SELECT region, "
        "sumIf(people_laid_off, day >= {d7:Date}), "
        "sumIf(concentrated_layoffs, day >= {d7:Date}), "
        "sumIf(reg_temporary_assistance, day >= {d7:Date}), "
        "sumIf(registrations, day >= {d7:Date}), "
        "sumIf(claims, day >= {d28:Date}), sumIf(registrations, day >= {d28:Date}), "
        "sumIf(vacancy_openings, day >= {d28:Date}) "
        "FROM region_daily_facts WHERE day >= {d28:Date} AND day <= {today:Date} GROUP BY region",
        {"d7": d7, "d28": d28, "today": today},
    )
    base: dict[str, dict[str, float]] = defaultdict(dict)
    known = [r for r in facts if reference.get(str(r[0])) is not None]
    names = (
        "people_laid_off_7d",
        "concentrated_layoffs_7d",
        "registrations_temporary_assistance_7d",
        "registrations_7d",
        "claims_28d",
        "_registrations_28d",
        "_openings_28d",
    )
    for row in known:
        for name, value in zip(names, row[1:], strict=True):
            base[name][str(row[0])] = float(value or 0)

    prior = store.rows(
        "SELECT region, sum(claims) FROM region_daily_facts WHERE "
        "(day BETWEEN {a1:Date} AND {b1:Date}) OR (day BETWEEN {a2:Date} AND {b2:Date}) "
        "GROUP BY region",
        {
            "a1": _years_back(d28, 1),
            "b1": _years_back(today, 1),
            "a2": _years_back(d28, 2),
            "b2": _years_back(today, 2),
        },
    )
    base["_claims_prior_2y"] = dict(_known(reference, prior))

    households = store.rows(
        "SELECT r, countIf(z = 1) FROM (SELECT argMaxMerge(region) AS r, "
        "argMaxMerge(zero_employment) AS z FROM households GROUP BY household_id) GROUP BY r"
    )
    base["zero_employment_households_open"] = dict(_known(reference, households))
    posts = welfare_posts(store)
    base["welfare_post_slots"] = dict(_known(reference, ((r, s) for r, s, _ in posts)))
    base["welfare_post_holders"] = dict(_known(reference, ((r, h) for r, _, h in posts)))

    values: Values = {}
    for name in SUMMED:
        values[name] = _roll_sum(reference, base.get(name, {}))
    values["people_laid_off_7d_per_million"] = _per_million(reference, values["people_laid_off_7d"])
    claims = values["claims_28d"]
    prior_mean = {k: v / 2 for k, v in _roll_sum(reference, base["_claims_prior_2y"]).items()}
    values["claims_vs_prior_years"] = _ratio(claims, prior_mean)
    values["applicant_to_vacancy_ratio"] = _ratio(
        _roll_sum(reference, base.get("_registrations_28d", {})),
        _roll_sum(reference, base.get("_openings_28d", {})),
    )
    values["job_loss_rate"] = _job_loss_rate(store, reference, today)
    values["disaster_area"] = (
        _disaster_as_of(store, reference, today) if historical else _disaster(store, reference)
    )
    return values


def welfare_posts(store: Store) -> list[tuple[str, float, float]]:
    """(county, slots, slots taken) of the public-welfare posts open, per county."""
    rows = store.rows(
        "SELECT r, sum(s), sum(h) FROM (SELECT argMaxMerge(region) AS r, "
        "argMaxMerge(slots) AS s, greatest(sum(seated), 0) AS h, max(opened) AS o "
        "FROM welfare_posts GROUP BY post_id) WHERE o = 1 GROUP BY r"
    )
    return [(str(r), float(s or 0), float(h or 0)) for r, s, h in rows]


def _per_million(reference: RegionReference, counts: dict[str, float]) -> dict[str, float]:
    """``counts`` per million residents, for the regions whose population is known."""
    out: dict[str, float] = {}
    for code, count in counts.items():
        region = reference.get(code)
        if region is not None and region.population:
            out[code] = count * 1_000_000 / region.population
    return out


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _job_loss_rate(store: Store, reference: RegionReference, today: dt.date) -> dict[str, float]:
    """% of base headcount lost, over the latest report up to ``today`` of each monitored
    enterprise."""
    rows = store.rows(
        "SELECT region, sum(b), sum(c) FROM (SELECT enterprise, "
        "argMax(region, occurred_at) AS region, "
        "argMax(JSONExtractUInt(payload, 'base_headcount'), occurred_at) AS b, "
        "argMax(JSONExtractUInt(payload, 'current_headcount'), occurred_at) AS c "
        "FROM events WHERE event_type = 'enterprise.headcount_reported' "
        "AND toDate(occurred_at) <= {today:Date} GROUP BY enterprise) "
        "GROUP BY region",
        {"today": today},
    )
    known = [r for r in rows if reference.get(str(r[0])) is not None]
    base = _roll_sum(reference, {str(r[0]): float(r[1]) for r in known})
    current = _roll_sum(reference, {str(r[0]): float(r[2]) for r in known})
    return {k: 100.0 * (b - current.get(k, 0.0)) / b for k, b in base.items() if b > 0}


def _severities(reference: RegionReference, rows: Iterable[tuple[Any, ...]]) -> dict[str, float]:
    """(region, active, severity) rows -> the most severe active flag per region, rolled up."""
    per_region: dict[str, float] = {}
    for region, active, severity in rows:
        if active and reference.get(str(region)) is not None:
            # an active flag counts as at least level IV, whatever its severity reads
            number = float(max(rank(str(severity), default=1), LEVELS[0].rank))
            per_region[str(region)] = max(per_region.get(str(region), 0.0), number)
    return _roll_max(reference, per_region)


def _disaster(store: Store, reference: RegionReference) -> dict[str, float]:
    from projections.queries import ACTIVE_DISASTER_AREAS

    rows = store.rows(f"SELECT region, active, severity FROM ({ACTIVE_DISASTER_AREAS})")
    return _severities(reference, rows)


def _disaster_as_of(store: Store, reference: RegionReference, day: dt.date) -> dict[str, float]:
    """The disaster state at the end of ``day``, from the log (same rules as the current
    state: a region's latest event wins, and a clear naming no region clears them all)."""
    rows = store.rows(
        "SELECT s.flagged, toUInt8(s.active = 1 AND s.flagged_at > "
        "ifNull(g.cleared_at, toDateTime64(0, 3))), s.severity FROM ("
        "SELECT flagged, disaster_id, "
        "argMax(toUInt8(event_type != 'disaster_area.cleared'), (occurred_at, kafka_offset)) "
        "AS active, argMax(toString(severity), (occurred_at, kafka_offset)) AS severity, "
        "maxIf(occurred_at, event_type != 'disaster_area.cleared') AS flagged_at "
        "FROM events ARRAY JOIN disaster_regions AS flagged "
        "WHERE event_type LIKE 'disaster_area.%' AND toDate(occurred_at) <= {d:Date} "
        "GROUP BY flagged, disaster_id) AS s LEFT JOIN ("
        "SELECT disaster_id, max(occurred_at) AS cleared_at FROM events "
        "WHERE event_type = 'disaster_area.cleared' AND empty(disaster_regions) "
        "AND toDate(occurred_at) <= {d:Date} GROUP BY disaster_id) AS g "
        "ON s.disaster_id = g.disaster_id SETTINGS join_use_nulls = 1",
        {"d": day},
    )
    return _severities(reference, rows)


def last_report_age_days(
    store: Store, reference: RegionReference, event_type: str, now: dt.datetime
) -> dict[str, float]:
    """Days since ``event_type`` was last seen, for every city and the province. A region
    that never reported counts from the first event the system ever recorded (silence is
    never zero)."""
    since_start = aware(store.scalar("SELECT min(recorded_at) FROM events"))
    if since_start is None:
        return {}
    if since_start > now:  # a replay of days before EAMS recorded anything: count from the
        # first period any event describes, or report no data before that
        since_start = aware(store.scalar("SELECT min(occurred_at) FROM events"))
        if since_start is None or since_start > now:
            return {}
    last: dict[str, dt.datetime] = {}
    rows = store.rows(
        "SELECT region, max(occurred_at) FROM events WHERE event_type = {t:String} "
        "AND occurred_at <= {now:DateTime64(3)} GROUP BY region",
        {"t": event_type, "now": now},
    )
    for region, seen in rows:
        at = aware(seen)
        if not isinstance(at, dt.datetime) or reference.get(str(region)) is None:
            continue
        for target in _ancestors(reference, str(region)):
            if target not in last or at > last[target]:
                last[target] = at
    targets = [c.code for c in reference.cities()] + [reference.root().code]
    return {
        code: max(0.0, (now - last.get(code, since_start)).total_seconds() / 86400)
        for code in targets
    }

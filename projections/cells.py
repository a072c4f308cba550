"""The disclosure table: every count an analyst is shown, and how the counts add up.

One table per hierarchy and moment (:func:`read`), solved by
:meth:`projections.disclosure.CellTable.solve`; the views of
:mod:`projections.disclosure_views` take every count they show from it, so one count is
treated the same wherever it appears (the overview's 7-day city figure is the indicator's).

Cells (keys), and where an analyst is shown them:

- ``("w", column, region, window)``: facts summed over a window (0 = everything so far);
  shown for cities at every window (the overview), for counties and the province at the
  windows of the indicators (7 days; claims 28).
- ``("d", column, region, day)``: daily facts of the trend columns; shown for every
  region over the last :data:`TREND_DAYS` days (trends).
- ``("persons", city)``: registered persons (the overview).
- ``("households", region)``: open zero-employment households (indicators).
- ``("welfare_holders", region)``: people holding a public-welfare post (indicators).
- ``("welfare_slots", region)``: the slots of the posts open (indicators): advertised
  posts, not people, so shown as they are unless they would tell a holders' count (slots =
  holders + the vacant slots, which no one is shown: one slot and a "<5" of holders is
  one holder).
- ``("part", name, region)``: parts of ratios (prior claims, headcounts); never shown, a
  ratio is withheld when a part is small.

Equations (groups): a region = its child regions + its own remainder (for every column and
period shown at both levels); a window of days = its days; a longer window = the shorter one
+ the days between; registrations = the target groups; layoff reports = the concentrated
ones; events = the typed counts. An amount paid goes with the number of payments.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from events.regions import RegionReference
from projections.client import Store
from projections.disclosure import ANALYST_WINDOWS, TREND_DAYS, Cells, CellTable
from projections.indicators import welfare_posts

#: Counts of the daily facts an analyst sees (the overview's columns, less the public
#: disaster flags and the amount paid).
COUNT_COLUMNS: tuple[str, ...] = (
    "events", "layoff_reports", "people_laid_off", "concentrated_layoffs", "vacancy_openings",
    "registrations", "reg_employment_difficulty", "reg_rural_surplus_labour",
    "reg_low_income_graduate", "reg_temporary_assistance", "claims", "services", "placements",
    "subsidies_paid",
)  # fmt: skip
AMOUNT = "subsidy_amount_paid"
#: Disaster flags are public declarations, not counts of people: shown as they are.
PUBLIC_COLUMNS = ("disaster_flags", "disaster_clears")
#: 0 = everything so far (no ``days``).
WINDOWS: tuple[int, ...] = (*ANALYST_WINDOWS, 0)
#: The daily series of ``/api/trends`` (eams.http.console.TREND_COLUMNS).
TREND_COLUMNS = ("people_laid_off", "registrations", "reg_temporary_assistance", "claims")
#: Count indicators and the facts cell each one is: (column, window).
INDICATOR_CELLS: dict[str, tuple[str, int]] = {
    "people_laid_off_7d": ("people_laid_off", 7),
    "concentrated_layoffs_7d": ("concentrated_layoffs", 7),
    "registrations_temporary_assistance_7d": ("reg_temporary_assistance", 7),
    "registrations_7d": ("registrations", 7),
    "claims_28d": ("claims", 28),
}
_INDICATOR_WINDOWS = frozenset(INDICATOR_CELLS.values())
HOUSEHOLDS = "zero_employment_households_open"
WELFARE_HOLDERS = "welfare_post_holders"
#: Slots of the posts open: advertised posts, not people; shown as they are.
WELFARE_SLOTS = "welfare_post_slots"
_PARTS_OF = {  # column groups: a total and the counts it is made of
    "registrations": ("reg_employment_difficulty", "reg_rural_surplus_labour",
                      "reg_low_income_graduate", "reg_temporary_assistance"),
    "layoff_reports": ("concentrated_layoffs",),
    "events": ("layoff_reports", "registrations", "claims", "services", "placements",
               "subsidies_paid"),
}  # fmt: skip

Rolled = dict[str, dict[Any, float]]  # region -> (column, period) -> value


def _targets(reference: RegionReference, code: str) -> list[str]:
    if reference.get(code) is None:
        return []
    return [code] + [r.code for r in reference.ancestors(code)]


def _roll(reference: RegionReference, rows: dict[str, dict[Any, float]]) -> Rolled:
    out: Rolled = defaultdict(lambda: defaultdict(float))
    for code, values in rows.items():
        for target in _targets(reference, code):
            for k, v in values.items():
                out[target][k] += v
    return out


def assemble(
    reference: RegionReference,
    today: dt.date,
    windows: dict[str, dict[tuple[str, int], float]],
    daily: dict[str, dict[tuple[str, dt.date], float]],
    persons: dict[str, int],
    households: dict[str, float],
    parts: dict[str, dict[str, float]],
    *,
    detail: bool,
    holders: dict[str, float] | None = None,
    slots: dict[str, float] | None = None,
) -> CellTable:
    """The table of one hierarchy from per-region rows (not yet rolled up): ``windows``
    (column, window) -> sum, ``daily`` (column, day) -> sum, ``parts`` name -> region ->
    value. ``detail``: counties and the province are shown too (the primary hierarchy:
    indicators and trends); otherwise only the cities of the overview. ``holders``: people
    on public-welfare posts per region; ``slots``: the slots of their posts."""
    table = CellTable()
    cities = {c.code for c in reference.cities()}
    province = reference.root().code
    rolled = _roll(reference, windows)
    days = _roll(reference, daily) if detail else {}

    def shown_window(region: str, column: str, window: int) -> bool:
        return region in cities or (detail and (column, window) in _INDICATOR_WINDOWS)

    for region, values in rolled.items():
        for (column, window), value in values.items():
            key = ("w", column, region, window)
            if column == AMOUNT:
                table.add(key, value, shown=region in cities, count=False)
                table.link(("w", "subsidies_paid", region, window), key)
            else:
                table.add(key, value, shown=shown_window(region, column, window))
    for region, values in days.items():
        for (column, day), value in values.items():
            table.add(("d", column, region, day), value)
    for city, n in persons.items():
        if city in cities:
            table.add(("persons", city), n)
    for region, held in _roll(reference, {r: {0: v} for r, v in households.items()}).items():
        table.add(("households", region), held[0], shown=detail)
    for region, held in _roll(reference, {r: {0: v} for r, v in (holders or {}).items()}).items():
        table.add(("welfare_holders", region), held[0], shown=detail)
    posts = _roll(reference, {r: {0: v} for r, v in (slots or {}).items()})
    for region, open_slots in posts.items():
        table.add(("welfare_slots", region), open_slots[0], shown=detail, count=False)
        table.group(("welfare_slots", region), [("welfare_holders", region)])
    for name, per_region in parts.items():
        rolled_part = _roll(reference, {r: {0: v} for r, v in per_region.items()})
        for region, part in rolled_part.items():
            table.add(("part", name, region), part[0], shown=False, count=False)

    _region_groups(table, reference, rolled, days, detail, province)
    _time_groups(table, rolled, days, today, detail)
    _column_groups(table, rolled, days)
    return table


def _region_groups(
    table: CellTable,
    reference: RegionReference,
    rolled: Rolled,
    days: Rolled,
    detail: bool,
    province: str,
) -> None:
    """A region = its child regions + its own remainder, wherever both levels are shown."""
    if not detail:
        return  # only cities are shown: no total above or below them
    parents = [province, *(c.code for c in reference.cities())]
    for parent in parents:
        kids = [c.code for c in reference.children(parent)]
        for column, window in INDICATOR_CELLS.values():
            table.group(("w", column, parent, window), [("w", column, k, window) for k in kids])
        for column, day in days.get(parent, {}):
            table.group(("d", column, parent, day), [("d", column, k, day) for k in kids])
        table.group(("households", parent), [("households", k) for k in kids])
        table.group(("welfare_holders", parent), [("welfare_holders", k) for k in kids])
        table.group(("welfare_slots", parent), [("welfare_slots", k) for k in kids])


def _time_groups(
    table: CellTable,
    rolled: Rolled,
    days: Rolled,
    today: dt.date,
    detail: bool,
) -> None:
    """A window = its days (within the daily range); a longer window = the shorter one +
    the days between."""
    for region, values in rolled.items():
        columns = {c for c, _ in values}
        for column in columns:
            if column == AMOUNT:
                continue
            windows = sorted(
                (w for w in WINDOWS if ("w", column, region, w) in table.shown),
                key=lambda w: w or 10**6,
            )
            daily = detail and column in TREND_COLUMNS
            chain_from = None
            for window in windows:
                key = ("w", column, region, window)
                if daily and 0 < window <= TREND_DAYS:
                    since = today - dt.timedelta(days=window - 1)
                    table.group(
                        key,
                        [("d", column, region, d) for c, d in days.get(region, {}) if c == column
                         and d >= since],
                    )  # fmt: skip
                elif chain_from is not None:
                    table.group(key, [chain_from])
                chain_from = key


def _column_groups(table: CellTable, rolled: Rolled, days: Rolled) -> None:
    """Registrations = the target groups; layoff reports = the concentrated ones; events =
    the typed counts (each + a remainder), in every region and period both are shown."""
    for region in rolled:
        for window in WINDOWS:
            for total, parts in _PARTS_OF.items():
                key = ("w", total, region, window)
                if key in table.shown:
                    kids = [("w", p, region, window) for p in parts]
                    table.group(key, [k for k in kids if k in table.shown])
    for region, values in days.items():
        for column, day in values:
            if column == "registrations":
                table.group(
                    ("d", column, region, day), [("d", "reg_temporary_assistance", region, day)]
                )


# -- reading -----------------------------------------------------------------------------


def read(
    store: Store,
    reference: RegionReference,
    today: dt.date,
    persons: dict[str, int],
    *,
    detail: bool,
) -> Cells:
    """Query the projections for one hierarchy and solve its table."""
    columns = (*COUNT_COLUMNS, AMOUNT)
    exprs = [f"sum({c})" for c in columns]
    params: dict[str, Any] = {}
    for w in ANALYST_WINDOWS:
        params[f"s{w}"] = today - dt.timedelta(days=w - 1)
        exprs += [f"sumIf({c}, day >= {{s{w}:Date}})" for c in columns]
    windows: dict[str, dict[tuple[str, int], float]] = {}
    names = [(c, 0) for c in columns] + [(c, w) for w in ANALYST_WINDOWS for c in columns]
    for row in store.rows(
        f"SELECT region, {', '.join(exprs)} FROM region_daily_facts GROUP BY region", params
    ):
        windows[str(row[0])] = {n: float(v or 0) for n, v in zip(names, row[1:], strict=True)}
    daily: dict[str, dict[tuple[str, dt.date], float]] = defaultdict(dict)
    households: dict[str, float] = {}
    holders: dict[str, float] = {}
    slots: dict[str, float] = {}
    parts: dict[str, dict[str, float]] = {}
    if detail:
        sums = ", ".join(f"sum({c})" for c in TREND_COLUMNS)
        first = today - dt.timedelta(days=TREND_DAYS - 1)
        for row in store.rows(
            f"SELECT region, day, {sums} FROM region_daily_facts WHERE day >= {{s:Date}} "
            "GROUP BY region, day",
            {"s": first},
        ):
            for column, value in zip(TREND_COLUMNS, row[2:], strict=True):
                if value:
                    daily[str(row[0])][(column, row[1])] = float(value)
        households = _households(store)
        posts = welfare_posts(store)
        holders = {r: h for r, _, h in posts if h}
        slots = {r: n for r, n, _ in posts if n}
        parts = _ratio_parts(store, today)
    return assemble(
        reference,
        today,
        windows,
        daily,
        persons,
        households,
        parts,
        detail=detail,
        holders=holders,
        slots=slots,
    ).solve()


def _households(store: Store) -> dict[str, float]:
    """Open zero-employment households per region (as :mod:`projections.indicators`)."""
    rows = store.rows(
        "SELECT r, countIf(z = 1) FROM (SELECT argMaxMerge(region) AS r, "
        "argMaxMerge(zero_employment) AS z FROM households GROUP BY household_id) GROUP BY r"
    )
    return {str(r): float(n) for r, n in rows if n}


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _ratio_parts(store: Store, today: dt.date) -> dict[str, dict[str, float]]:
    """The parts of the ratio indicators no one is shown: claims of the same 28 days one
    and two years back, base and lost headcount of monitored enterprises (the same
    queries as :mod:`projections.indicators`)."""
    d28 = today - dt.timedelta(days=27)
    prior = store.rows(
        "SELECT region, sum(claims) FROM region_daily_facts WHERE "
        "(day BETWEEN {a1:Date} AND {b1:Date}) OR (day BETWEEN {a2:Date} AND {b2:Date}) "
        "GROUP BY region",
        {"a1": _years_back(d28, 1), "b1": _years_back(today, 1),
         "a2": _years_back(d28, 2), "b2": _years_back(today, 2)},
    )  # fmt: skip
    heads = store.rows(
        "SELECT region, sum(b), sum(c) FROM (SELECT enterprise, "
        "argMax(region, occurred_at) AS region, "
        "argMax(JSONExtractUInt(payload, 'base_headcount'), occurred_at) AS b, "
        "argMax(JSONExtractUInt(payload, 'current_headcount'), occurred_at) AS c "
        "FROM events WHERE event_type = 'enterprise.headcount_reported' "
        "AND toDate(occurred_at) <= {today:Date} GROUP BY enterprise) GROUP BY region",
        {"today": today},
    )
    return {
        "prior_claims": {str(r): float(v or 0) for r, v in prior},
        "base_headcount": {str(r): float(b or 0) for r, b, _ in heads},
        "lost_headcount": {str(r): max(float(b or 0) - float(c or 0), 0.0) for r, b, c in heads},
    }

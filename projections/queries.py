"""Read-model queries over the projections (what the API, the demo table and tests read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from events.regions import RegionReference
from events.severity import most_severe
from projections.client import Store

FACT_COLUMNS: tuple[str, ...] = (
    "events", "layoff_reports", "people_laid_off", "concentrated_layoffs", "vacancy_openings",
    "registrations",
    "reg_employment_difficulty", "reg_rural_surplus_labour", "reg_low_income_graduate",
    "reg_temporary_assistance", "claims", "services", "placements", "subsidies_paid",
    "subsidy_amount_paid", "disaster_flags", "disaster_clears",
)  # fmt: skip

_SUMS = ", ".join(f"sum({c}) AS {c}" for c in FACT_COLUMNS)

#: Every (region, disaster) ever flagged, with ``active`` resolved against both kinds of
#: clear: one naming the region (latest event wins), and one naming no region (clears the
#: whole disaster as of its time, even for flags that arrive later but happened before).
ACTIVE_DISASTER_AREAS = """
SELECT s.region AS region, s.disaster_id AS disaster_id, s.city AS city,
       toUInt8(s.active = 1 AND s.flagged_at > ifNull(g.cleared_at, toDateTime64(0, 3))) AS active,
       s.kind AS kind, s.severity AS severity, s.since AS since,
       greatest(s.changed_at, ifNull(g.cleared_at, toDateTime64(0, 3))) AS changed_at
FROM (
    SELECT region, disaster_id, any(city) AS city, argMaxMerge(active) AS active,
           argMaxMerge(kind) AS kind, argMaxMerge(severity) AS severity,
           min(since) AS since, max(changed_at) AS changed_at, max(flagged_at) AS flagged_at
    FROM disaster_area_state GROUP BY region, disaster_id
) AS s
LEFT JOIN (
    SELECT disaster_id, max(cleared_at) AS cleared_at FROM disaster_clears GROUP BY disaster_id
) AS g ON s.disaster_id = g.disaster_id
SETTINGS join_use_nulls = 1
"""
_ACTIVE_DISASTER_AREAS = ACTIVE_DISASTER_AREAS


def _number(value: Any) -> int | float:
    return float(value) if isinstance(value, float) else int(value or 0)


def fact_totals(store: Store, since: dt.date | None = None) -> dict[str, int | float]:
    """Sums of every daily-fact column (over all regions), from ``since`` if given."""
    where = "WHERE day >= {since:Date}" if since else ""
    rows = store.dicts(f"SELECT {_SUMS} FROM region_daily_facts {where}", {"since": since})
    return {k: _number(v) for k, v in rows[0].items()} if rows else {}


def city_overview(
    store: Store,
    reference: RegionReference,
    since: dt.date | None = None,
    persons: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One row per city of the hierarchy: facts since ``since``, active disaster areas,
    registered persons (``persons``: a recent :func:`persons_per_city`, or queried now);
    cities with no data still appear (with zeros)."""
    where = "WHERE day >= {since:Date}" if since else ""
    facts = {
        r["city"]: r
        for r in store.dicts(
            f"SELECT city, {_SUMS} FROM region_daily_facts {where} GROUP BY city",
            {"since": since},
        )
    }
    # The most severe level is picked here, on the scale, not by the strings' order in SQL.
    disasters = {
        city: (int(n), most_severe(str(s) for s in severities) or "")
        for city, n, severities in store.rows(
            f"SELECT city, uniqExactIf(region, active = 1), "
            f"groupUniqArrayIf(severity, active = 1 AND severity != '') "
            f"FROM ({_ACTIVE_DISASTER_AREAS}) GROUP BY city"
        )
    }
    if persons is None:
        persons = persons_per_city(store)
    out: list[dict[str, Any]] = []
    for city in reference.cities():
        row: dict[str, Any] = {"code": city.code, "name": city.name, "name_en": city.name_en}
        got = facts.get(city.code, {})
        row.update({c: _number(got.get(c, 0)) for c in FACT_COLUMNS})
        areas, severity = disasters.get(city.code, (0, ""))
        row["disaster_areas"] = areas
        row["disaster_severity"] = severity if areas else ""
        row["persons"] = persons.get(city.code, 0)
        out.append(row)
    return out


def persons_per_city(store: Store) -> dict[str, int]:
    """Registered persons per city (each person counted in their latest city). It reads
    every person's state: ~0.3 s a million persons, so the API refreshes it in the
    background instead of on each request."""
    return {
        city: int(n)
        for city, n in store.rows(
            "SELECT c, count() FROM (SELECT argMaxMerge(city) AS c FROM persons "
            "GROUP BY person_id) GROUP BY c"
        )
    }


def active_disaster_areas(store: Store) -> list[dict[str, Any]]:
    """Regions currently flagged as disaster areas."""
    return store.dicts(
        f"SELECT region, disaster_id, city, kind, severity, since, changed_at "
        f"FROM ({_ACTIVE_DISASTER_AREAS}) WHERE active = 1 ORDER BY region, disaster_id"
    )


def counts(store: Store) -> dict[str, Any]:
    """Exact counts of every projection (tests compare them with what was produced)."""
    by_type = dict(store.rows("SELECT event_type, count() FROM events GROUP BY event_type"))
    persons = store.dicts(
        "SELECT count() AS persons, countIf(g != '') AS with_group, "
        "countIf(s = 'exited') AS exited "
        "FROM (SELECT argMaxMerge(target_group) AS g, argMaxMerge(status) AS s "
        "FROM persons GROUP BY person_id)"
    )[0]
    households = store.dicts(
        "SELECT count() AS households, countIf(z = 1) AS zero_employment_open "
        "FROM (SELECT argMaxMerge(zero_employment) AS z FROM households GROUP BY household_id)"
    )[0]
    return {
        "events": sum(int(v) for v in by_type.values()),
        "events_by_type": {k: int(v) for k, v in sorted(by_type.items())},
        "distinct_event_ids": int(store.scalar("SELECT uniqExact(event_id) FROM events") or 0),
        "events_in_statistical_zones": int(
            store.scalar("SELECT countIf(region_is_statistical_zone = 1) FROM events") or 0
        ),
        "facts": fact_totals(store),
        "persons": {k: int(v) for k, v in persons.items()},
        "households": {k: int(v) for k, v in households.items()},
        "active_disaster_areas": len(active_disaster_areas(store)),
    }


#: The daily facts a region's trend shows (console), in order.
TREND_COLUMNS = ("people_laid_off", "registrations", "reg_temporary_assistance", "claims")


def region_trend(store: Store, region: str, level: str, since: dt.date) -> list[dict[str, Any]]:
    """Per day from ``since``: the sums of :data:`TREND_COLUMNS` over a city (``level``
    ``city``), a county, or the whole province (any other level)."""
    where = {"city": "city = {r:String}", "county": "region = {r:String}"}.get(level, "1 = 1")
    sums = ", ".join(f"sum({c}) AS {c}" for c in TREND_COLUMNS)
    return store.dicts(
        f"SELECT day, {sums} FROM region_daily_facts WHERE day >= {{s:Date}} AND {where} "
        "GROUP BY day ORDER BY day",
        {"s": since, "r": region},
    )

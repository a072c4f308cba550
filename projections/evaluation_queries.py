"""What each measure of the performance evaluation counts, per county, for a period as the
log was known at an instant (``subsidies.evaluation`` says which measures a table scores,
and how). Every query reads the ``events`` below the log positions the projector had
reached then (and recorded by then), so a period computed again with a freeze's positions
gives the same counts, and nothing that occurred after the period.

The counts are (numerator, denominator) per county; :func:`evaluate` adds each city's
from its counties and the province's from its cities.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from events.regions import RegionReference
from projections.client import Store

__all__ = ["count_measures", "evaluate"]

Counts = dict[str, tuple[Decimal, Decimal]]
_KNOWN = (
    "recorded_at <= {as_of:DateTime64(3, 'Asia/Shanghai')} "
    "AND occurred_at < {end:DateTime64(3, 'Asia/Shanghai')} "
    "AND kafka_offset < arrayElement({bound:Array(UInt64)}, toUInt32(kafka_partition) + 1)"
)
_IN = "occurred_at >= {start:DateTime64(3, 'Asia/Shanghai')}"
_CONTACTS = (
    "'service.delivered', 'plan.agreed', 'plan.revised', 'referral.made', "
    "'training.enrolled', 'placement.recorded'"
)
_AMOUNT = "toDecimal128OrZero(trim(BOTH '\"' FROM JSONExtractRaw(payload, 'amount')), 2)"


def _persons(store: Store, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per person (their latest county): recognised, exited, served in the period, placed in
    it, registered in it and recognised within how many days."""
    return store.dicts(
        f"""
        SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
               minIf(occurred_at, event_type = 'person.recognized') AS recognised_at,
               minIf(occurred_at, event_type = 'person.exited') AS exited_at,
               countIf(({_IN}) AND (event_type IN ({_CONTACTS}) OR (event_type = 'visit.recorded'
                       AND JSONExtractString(payload, 'outcome') != 'not_reached'))) AS contacts,
               countIf(({_IN}) AND event_type = 'placement.recorded') AS placements,
               minIf(occurred_at, event_type = 'person.registered') AS registered_at
        FROM events
        WHERE person_id != '' AND {_KNOWN}
          AND event_type IN ('person.registered', 'person.recognized', 'person.exited',
                             'visit.recorded', {_CONTACTS})
        GROUP BY person_id
        """,
        dict(params),
    )


def _add(counts: dict[str, Counts], measure: str, county: str, num: Any, den: Any) -> None:
    held = counts.setdefault(county, {}).get(measure, (Decimal(0), Decimal(0)))
    counts[county][measure] = (held[0] + Decimal(num), held[1] + Decimal(den))


def _person_measures(
    store: Store, params: Mapping[str, Any], days: Mapping[str, int], counts: dict[str, Counts]
) -> None:
    epoch = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)
    start, end = params["start"], params["end"]
    limit = dt.timedelta(days=days.get("recognition_timeliness", 15))
    for p in _persons(store, params):
        county = p["county"]
        recognised = p["recognised_at"] if p["recognised_at"] > epoch else None
        exited = p["exited_at"] if p["exited_at"] > epoch else None
        registered = p["registered_at"] if p["registered_at"] > epoch else None
        if recognised is not None and (exited is None or exited >= start):
            _add(counts, "coverage", county, int(p["contacts"] > 0), 1)
            if p["contacts"] > 0:
                _add(counts, "employment_rate", county, int(p["placements"] > 0), 1)
        if registered is not None and start <= registered < end:
            timely = recognised is not None and recognised - registered <= limit
            _add(counts, "recognition_timeliness", county, int(timely), 1)


def _clearing(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    rows = store.dicts(
        f"""
        SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
               countIf(({_IN}) AND event_type = 'household.zero_employment_cleared'
                       AND JSONExtractBool(payload, 'on_time')) AS on_time,
               countIf(({_IN}) AND event_type = 'household.zero_employment_cleared') AS cleared,
               argMaxIf(toDateOrNull(JSONExtractString(payload, 'deadline')), (occurred_at,
                   kafka_offset),
                        event_type = 'household.zero_employment_identified') AS deadline,
               maxIf(occurred_at,
                   event_type = 'household.zero_employment_identified') AS identified_at,
               maxIf(occurred_at, event_type = 'household.zero_employment_cleared') AS cleared_at
        FROM events
        WHERE aggregate_id != '' AND {_KNOWN}
          AND event_type IN ('household.zero_employment_identified',
              'household.zero_employment_cleared')
        GROUP BY aggregate_id
        """,
        dict(params),
    )
    last_day = (params["end"] - dt.timedelta(days=1)).date()
    for r in rows:
        open_late = (
            r["identified_at"] > r["cleared_at"]
            and r["deadline"] is not None
            and r["deadline"] < last_day
        )
        if r["cleared"] or open_late:
            _add(
                counts, "clearing_on_time", r["county"], r["on_time"], r["cleared"] + int(open_late)
            )


def _visits(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    rows = store.dicts(
        f"""
        SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
               groupArrayIf((toDateOrNull(JSONExtractString(payload, 'due_on')),
                             toUInt32(JSONExtractUInt(payload, 'interval_days'))),
                            event_type = 'visit.scheduled') AS due,
               groupArrayIf(ifNull(toDateOrNull(JSONExtractString(payload, 'visited_on')),
                   toDate(occurred_at)),
                            event_type = 'visit.recorded') AS visited
        FROM events
        WHERE person_id != '' AND {_KNOWN} AND event_type IN ('visit.scheduled', 'visit.recorded')
        GROUP BY person_id
        """,
        dict(params),
    )
    first, last = params["start"].date(), (params["end"] - dt.timedelta(days=1)).date()
    for r in rows:
        made = sorted(r["visited"])
        for day, interval in {d for d in r["due"] if d[0] is not None}:
            if not first <= day <= last:
                continue
            window = day - dt.timedelta(days=max(int(interval), 1))
            met = any(window < v <= day for v in made)
            _add(counts, "visit_compliance", r["county"], int(met), 1)


def _subsidies(
    store: Store, params: Mapping[str, Any], days: Mapping[str, int], counts: dict[str, Counts]
) -> None:
    rows = store.dicts(
        f"""
        SELECT argMaxIf(toString(region), (occurred_at, kafka_offset),
            event_type = 'subsidy.entitled') AS county,
               minIf(occurred_at, event_type = 'subsidy.entitled' AND {_AMOUNT} > 0) AS due_at,
               minIf(occurred_at, event_type = 'subsidy.paid') AS paid_at
        FROM events
        WHERE person_id != '' AND {_KNOWN} AND event_type IN ('subsidy.entitled', 'subsidy.paid')
          AND JSONExtractString(payload, 'application_id') != ''
        GROUP BY JSONExtractString(payload, 'application_id'),
                 if(JSONExtractString(payload, 'month') != '', JSONExtractString(payload, 'month'),
                    formatDateTime(occurred_at, '%Y-%m'))
        HAVING due_at >= {{start:DateTime64(3, 'Asia/Shanghai')}}
        """,
        dict(params),
    )
    limit = dt.timedelta(days=days.get("subsidy_timeliness", 30))
    epoch = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)
    for r in rows:
        if not r["county"]:
            continue
        paid = r["paid_at"] if r["paid_at"] > epoch else None
        timely = paid is not None and paid - r["due_at"] <= limit
        _add(counts, "subsidy_timeliness", r["county"], int(timely), 1)


def _recovery(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    rows = store.dicts(
        f"""
        SELECT toString(region) AS county,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovered') AS recovered,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovery_ordered') AS ordered
        FROM events
        WHERE {_KNOWN} AND event_type IN ('subsidy.recovery_ordered', 'subsidy.recovered')
        GROUP BY county
        """,
        dict(params),
    )
    for r in rows:
        if Decimal(str(r["ordered"])) > 0:
            _add(
                counts,
                "recovery_rate",
                r["county"],
                Decimal(str(r["recovered"])),
                Decimal(str(r["ordered"])),
            )


def count_measures(
    store: Store,
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    days: Mapping[str, int] | None = None,
    positions: Sequence[int] | None = None,
) -> dict[str, Counts]:
    """County -> measure -> (numerator, denominator) for the period [start, end) as known
    at ``as_of``: events recorded by then and, when ``positions`` is given (the next offset
    of each partition of the log, index = partition), only those below it, so the same
    positions read the same events after any rebuild. ``days``: the time limits of the
    timeliness measures."""
    bound = list(positions) if positions is not None else [2**64 - 1] * 1024
    params = {"start": start, "end": end, "as_of": as_of, "bound": bound}
    limits = dict(days or {})
    counts: dict[str, Counts] = {}
    _person_measures(store, params, limits, counts)
    _clearing(store, params, counts)
    _visits(store, params, counts)
    _subsidies(store, params, limits, counts)
    _recovery(store, params, counts)
    return counts


def evaluate(
    counts: Mapping[str, Counts], reference: RegionReference, measures: Mapping[str, str]
) -> tuple[dict[str, dict[str, tuple[Decimal, Decimal]]], dict[str, str]]:
    """Each county's counts by indicator (``measures``: indicator -> measure), each city's
    and the province's as the sums of theirs (counts of a city's own code go to the city),
    and every region's level. Every county and city of the reference is there, counted or
    not; counts of a code the reference lacks are left out."""
    zero = (Decimal(0), Decimal(0))
    root = reference.root()
    levels = {r.code: "county" for r in reference.counties()}
    levels |= {r.code: "city" for r in reference.cities()}
    levels[root.code] = "province"
    by_region = {code: {ind: zero for ind in measures} for code in levels}
    for code, measured in counts.items():
        if code not in levels:
            continue
        chain = [code]
        if levels[code] == "county":
            chain.append(reference.city_of(code) or root.code)
        if levels[code] != "province":
            chain.append(root.code)
        for region in dict.fromkeys(chain):
            for ind, m in measures.items():
                if m in measured:
                    n, d = by_region[region][ind]
                    by_region[region][ind] = (n + measured[m][0], d + measured[m][1])
    return by_region, levels

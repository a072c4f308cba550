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


_T = "DateTime64(3, 'Asia/Shanghai')"
_EPOCH = "toDateTime64('1971-01-01 00:00:00', 3, 'Asia/Shanghai')"


def _add(counts: dict[str, Counts], measure: str, county: str, num: Any, den: Any) -> None:
    held = counts.setdefault(county, {}).get(measure, (Decimal(0), Decimal(0)))
    counts[county][measure] = (held[0] + Decimal(str(num)), held[1] + Decimal(str(den)))


def _person_measures(
    store: Store, params: Mapping[str, Any], days: Mapping[str, int], counts: dict[str, Counts]
) -> None:
    """Per person (at their latest county): recognised and not exited before the period
    (coverage's denominator), served in it (its numerator, employment's denominator), placed
    in it (employment's numerator); registered in it (recognition timeliness' denominator)
    and recognised within the limit of the registration (its numerator). Counted per county
    in the engine: one row per county comes back."""
    rows = store.dicts(
        f"""
        SELECT county,
               countIf(eligible) AS cov_den, countIf(eligible AND contacts > 0) AS cov_num,
               countIf(eligible AND contacts > 0 AND placements > 0) AS emp_num,
               countIf(registered) AS rt_den, countIf(registered AND timely) AS rt_num
        FROM (
            SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
                   minIf(occurred_at, event_type = 'person.recognized') AS recognised_at,
                   minIf(occurred_at, event_type = 'person.exited') AS exited_at,
                   minIf(occurred_at, event_type = 'person.registered') AS registered_at,
                   countIf(({_IN})
                       AND (event_type IN ({_CONTACTS}) OR (event_type = 'visit.recorded'
                           AND JSONExtractString(payload,
                               'outcome') != 'not_reached'))) AS contacts,
                   countIf(({_IN}) AND event_type = 'placement.recorded') AS placements,
                   recognised_at > {_EPOCH}
                       AND (exited_at <= {_EPOCH} OR exited_at >= {{start:{_T}}}) AS eligible,
                   registered_at >= {{start:{_T}}} AND registered_at < {{end:{_T}}} AS registered,
                   recognised_at > {_EPOCH}
                       AND dateDiff('second', registered_at,
                           recognised_at) <= {{limit:Int64}} AS timely
            FROM events
            WHERE person_id != '' AND {_KNOWN}
              AND event_type IN ('person.registered', 'person.recognized', 'person.exited',
                                 'visit.recorded', {_CONTACTS})
            GROUP BY person_id
        )
        GROUP BY county
        """,
        dict(params) | {"limit": days.get("recognition_timeliness", 15) * 86400},
    )
    for r in rows:
        if r["cov_den"]:
            _add(counts, "coverage", r["county"], r["cov_num"], r["cov_den"])
        if r["cov_num"]:
            _add(counts, "employment_rate", r["county"], r["emp_num"], r["cov_num"])
        if r["rt_den"]:
            _add(counts, "recognition_timeliness", r["county"], r["rt_num"], r["rt_den"])


def _clearing(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    """Households cleared in the period (on time or not), and those identified, not cleared
    and past their deadline at its end (they count as not on time)."""
    rows = store.dicts(
        f"""
        SELECT county, sum(on_time) AS num, sum(cleared) + countIf(open_late) AS den
        FROM (
            SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
                   countIf(({_IN}) AND event_type = 'household.zero_employment_cleared'
                           AND JSONExtractBool(payload, 'on_time')) AS on_time,
                   countIf(({_IN}) AND event_type = 'household.zero_employment_cleared') AS cleared,
                   argMaxIf(toDateOrNull(JSONExtractString(payload, 'deadline')),
                            (occurred_at, kafka_offset),
                            event_type = 'household.zero_employment_identified') AS deadline,
                   maxIf(occurred_at,
                       event_type = 'household.zero_employment_identified') AS identified_at,
                   maxIf(occurred_at,
                       event_type = 'household.zero_employment_cleared') AS cleared_at,
                   identified_at > cleared_at AND deadline IS NOT NULL
                       AND deadline < toDate({{end:{_T}}}) - 1 AS open_late
            FROM events
            WHERE aggregate_id != '' AND {_KNOWN}
              AND event_type IN ('household.zero_employment_identified',
                                 'household.zero_employment_cleared')
            GROUP BY aggregate_id
        )
        WHERE cleared > 0 OR open_late
        GROUP BY county
        """,
        dict(params),
    )
    for r in rows:
        _add(counts, "clearing_on_time", r["county"], r["num"], r["den"])


def _visits(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    """Each visit due in the period (a distinct due day of a person's schedule) and whether
    a visit was made within its interval before it, by the due day."""
    rows = store.dicts(
        f"""
        SELECT county, countIf(met) AS num, count() AS den
        FROM (
            SELECT county, due.1 AS day,
                   arrayExists(v -> v > due.1 - toIntervalDay(greatest(due.2, 1)) AND v <= due.1,
                               visited) AS met
            FROM (
                SELECT argMax(toString(region), (occurred_at, kafka_offset)) AS county,
                       arrayDistinct(groupArrayIf(
                           (toDateOrNull(JSONExtractString(payload, 'due_on')),
                            toUInt32(JSONExtractUInt(payload, 'interval_days'))),
                           event_type = 'visit.scheduled')) AS dues,
                       groupArrayIf(ifNull(toDateOrNull(JSONExtractString(payload, 'visited_on')),
                                           toDate(occurred_at)),
                                    event_type = 'visit.recorded') AS visited
                FROM events
                WHERE person_id != '' AND {_KNOWN}
                  AND event_type IN ('visit.scheduled', 'visit.recorded')
                GROUP BY person_id
            )
            ARRAY JOIN dues AS due
            WHERE due.1 IS NOT NULL AND due.1 >= toDate({{start:{_T}}})
              AND due.1 < toDate({{end:{_T}}})
        )
        GROUP BY county
        """,
        dict(params),
    )
    for r in rows:
        _add(counts, "visit_compliance", r["county"], r["num"], r["den"])


def _subsidies(
    store: Store, params: Mapping[str, Any], days: Mapping[str, int], counts: dict[str, Counts]
) -> None:
    """Each month of an application fallen due in the period (its first entitlement above
    zero) and whether it was paid within the limit."""
    rows = store.dicts(
        f"""
        SELECT county, countIf(paid_at > {_EPOCH}
                               AND dateDiff('second', due_at, paid_at) <= {{limit:Int64}}) AS num,
               count() AS den
        FROM (
            SELECT argMaxIf(toString(region), (occurred_at, kafka_offset),
                            event_type = 'subsidy.entitled') AS county,
                   minIf(occurred_at, event_type = 'subsidy.entitled' AND {_AMOUNT} > 0) AS due_at,
                   minIf(occurred_at, event_type = 'subsidy.paid') AS paid_at
            FROM events
            WHERE person_id != '' AND {_KNOWN}
              AND event_type IN ('subsidy.entitled', 'subsidy.paid')
              AND JSONExtractString(payload, 'application_id') != ''
            GROUP BY JSONExtractString(payload, 'application_id'),
                     if(JSONExtractString(payload, 'month') != '', JSONExtractString(payload,
                         'month'),
                        formatDateTime(occurred_at, '%Y-%m'))
            HAVING due_at >= {{start:{_T}}}
        )
        WHERE county != ''
        GROUP BY county
        """,
        dict(params) | {"limit": days.get("subsidy_timeliness", 30) * 86400},
    )
    for r in rows:
        _add(counts, "subsidy_timeliness", r["county"], r["num"], r["den"])


def _recovery(store: Store, params: Mapping[str, Any], counts: dict[str, Counts]) -> None:
    rows = store.dicts(
        f"""
        SELECT toString(region) AS county,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovered') AS recovered,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovery_ordered')
                 - sumIf({_AMOUNT}, event_type = 'subsidy.recovery_cancelled') AS ordered
        FROM events
        WHERE {_KNOWN} AND event_type IN ('subsidy.recovery_ordered', 'subsidy.recovered',
                                          'subsidy.recovery_cancelled')
        GROUP BY county
        """,
        dict(params),
    )
    for r in rows:
        if Decimal(str(r["ordered"])) > 0:
            _add(counts, "recovery_rate", r["county"], r["recovered"], r["ordered"])


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

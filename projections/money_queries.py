"""Read-model queries of the money (migration 0011): what is due for a county's payment
batch, the batches and their lines, and a person's applications.

A region selection is a set of region or city codes (``None``: every region), as the
case queries take it. Amounts come back as :class:`decimal.Decimal`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from projections.client import Store, aware

__all__ = ["APPLICATIONS", "applications_of", "batch_lines", "batches", "due_lines"]

_EPOCH = dt.date(1970, 1, 1)

#: The current state of each application, over ``{where}`` (a condition on its columns).
APPLICATIONS = """
SELECT * FROM (
    SELECT application_id,
           argMaxMerge(person_id) AS person_id, argMaxMerge(region) AS region,
           argMaxMerge(city) AS city, argMaxMerge(subsidy) AS subsidy,
           argMaxMerge(policy) AS policy, argMaxMerge(status) AS status,
           argMaxMerge(version) AS version, argMaxMerge(applicant) AS applicant,
           argMaxMerge(approver) AS approver, argMaxMerge(account_ref) AS account_ref,
           argMaxMerge(account_masked) AS account_masked,
           argMaxMerge(employer_uscc) AS employer_uscc,
           max(applied_on) AS applied_on, max(approved_on) AS approved_on,
           sum(paid) AS paid, sum(ordered) AS ordered, sum(recovered) AS recovered,
           max(last_event_at) AS last_event_at
    FROM money_applications {prewhere}
    GROUP BY application_id
) WHERE {where}
"""

#: Each month of each application: entitled, paid and due.
MONTHS = """
SELECT application_id, month,
       argMaxMerge(person_id) AS person_id, argMaxMerge(region) AS region,
       argMaxMerge(city) AS city, argMaxMerge(subsidy) AS subsidy,
       argMaxMerge(entitled) AS entitled, sum(paid) AS paid, sum(payments) AS payments,
       groupUniqArrayArray(paid_regions) AS paid_regions, max(last_paid_on) AS last_paid_on
FROM money_months
GROUP BY application_id, month
"""

#: Each line of each batch, over ``{where}``.
LINES = """
SELECT batch_id, line,
       argMaxMerge(region) AS region, argMaxMerge(batch_month) AS batch_month,
       argMaxMerge(person_id) AS person_id, argMaxMerge(application_id) AS application_id,
       argMaxMerge(subsidy) AS subsidy, argMaxMerge(month) AS month,
       argMaxMerge(amount) AS amount, argMaxMerge(account_ref) AS account_ref,
       argMaxMerge(account_masked) AS account_masked, argMaxMerge(name_masked) AS name_masked,
       max(created_at) AS created_at, argMaxMerge(outcome) AS outcome,
       argMaxMerge(reason) AS reason, max(paid_on) AS paid_on,
       max(reconciled_at) AS reconciled_at
FROM payment_batch_lines {prewhere}
GROUP BY batch_id, line
"""


def _date(value: Any) -> dt.date | None:
    return None if value is None or value == _EPOCH else value


def _time(value: Any) -> dt.datetime | None:
    if value is None or value.year < 1971:
        return None
    return aware(value)  # type: ignore[no-any-return]


def _regions(regions: Iterable[str] | None, column: str) -> tuple[str, dict[str, Any]]:
    """The condition that a county ``column`` is one of ``regions`` or in one of their
    cities (``None``: every region)."""
    if regions is None:
        return "1 = 1", {}
    return (
        f"({column} IN {{regions:Array(String)}} "
        f"OR concat(substring({column}, 1, 4), '00') IN {{regions:Array(String)}})",
        {"regions": sorted(regions)},
    )


def due_lines(store: Store, county: str, month: str) -> list[dict[str, Any]]:
    """Every month up to ``month`` (``YYYY-MM``) of the county's applications with an
    entitlement not yet paid and not in a batch that is unanswered or paid: the lines of
    the county's next batch, oldest month first, each with the payee's account and masked
    name. A line the bank failed is due again."""
    sql = f"""
    WITH m AS ({MONTHS}),
         held AS (
             SELECT application_id, month FROM ({LINES.format(prewhere="")})
             WHERE outcome IN ('', 'paid')
         )
    SELECT m.application_id AS application_id, m.month AS month, m.person_id AS person_id,
           m.subsidy AS subsidy, m.entitled - m.paid AS amount,
           a.account_ref AS account_ref, a.account_masked AS account_masked,
           c.name_masked AS name_masked
    FROM m
    LEFT JOIN ({APPLICATIONS.format(prewhere="", where="1 = 1")}) AS a
           ON a.application_id = m.application_id
    LEFT JOIN (SELECT person_id, argMaxMerge(name_masked) AS name_masked FROM case_ledger
               GROUP BY person_id) AS c ON c.person_id = m.person_id
    WHERE m.region = {{county:String}} AND m.month <= {{month:String}}
      AND m.entitled > m.paid
      AND a.status NOT IN ('stopped', 'rejected')
      AND (m.application_id, m.month) NOT IN (SELECT application_id, month FROM held)
    ORDER BY m.month, m.application_id
    """
    rows = store.dicts(sql, {"county": county, "month": month})
    return [{**r, "amount": Decimal(str(r["amount"]))} for r in rows]


def batch_lines(store: Store, batch_id: str) -> list[dict[str, Any]]:
    """The lines of one batch in line order, with the bank's answer (``outcome`` ``""``:
    none yet)."""
    sql = LINES.format(prewhere="WHERE batch_id = {batch:String}") + " ORDER BY line"
    rows = store.dicts(sql, {"batch": batch_id})
    for r in rows:
        r["amount"] = Decimal(str(r["amount"]))
        r["paid_on"] = _date(r["paid_on"])
        r["created_at"] = _time(r["created_at"])
        r["reconciled_at"] = _time(r["reconciled_at"])
    return [r for r in rows if r["person_id"]]  # a result whose batch is not projected yet


def batches(store: Store, regions: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every batch of ``regions``, newest first: its lines, total, and what the bank paid,
    failed and has not answered; how often its file was exported."""
    where, params = _regions(regions, "l.region")
    sql = f"""
    SELECT batch_id, any(l.region) AS region, any(batch_month) AS month,
           count() AS lines, sum(amount) AS total,
           countIf(outcome = 'paid') AS paid, sumIf(amount, outcome = 'paid') AS paid_total,
           countIf(outcome = 'failed') AS failed, countIf(outcome = '') AS unanswered,
           min(created_at) AS created_at, max(reconciled_at) AS reconciled_at
    FROM ({LINES.format(prewhere="")}) AS l
    WHERE person_id != '' AND {where}
    GROUP BY batch_id
    ORDER BY created_at DESC, batch_id
    """
    rows = store.dicts(sql, params)
    exports = dict(
        store.rows(
            "SELECT JSONExtractString(payload, 'batch_id'), count() FROM events "
            "WHERE event_type = 'payment_batch.exported' GROUP BY 1"
        )
    )
    for r in rows:
        r["total"] = Decimal(str(r["total"]))
        r["paid_total"] = Decimal(str(r["paid_total"]))
        r["created_at"] = _time(r["created_at"])
        r["reconciled_at"] = _time(r["reconciled_at"])
        r["exports"] = int(exports.get(r["batch_id"], 0))
    return rows


def applications_of(store: Store, person_id: str) -> list[dict[str, Any]]:
    """A person's applications, newest first, each with its months."""
    sql = APPLICATIONS.format(prewhere="", where="person_id = {person:String}")
    apps = store.dicts(sql + " ORDER BY applied_on DESC, application_id", {"person": person_id})
    if not apps:
        return []
    months = store.dicts(
        f"SELECT * FROM ({MONTHS}) WHERE application_id IN {{ids:Array(String)}} ORDER BY month",
        {"ids": [a["application_id"] for a in apps]},
    )
    by_app: dict[str, list[dict[str, Any]]] = {}
    for m in months:
        m["entitled"] = Decimal(str(m["entitled"]))
        m["paid"] = Decimal(str(m["paid"]))
        m["last_paid_on"] = _date(m["last_paid_on"])
        by_app.setdefault(m["application_id"], []).append(m)
    for a in apps:
        for key in ("paid", "ordered", "recovered"):
            a[key] = Decimal(str(a[key]))
        a["applied_on"] = _date(a["applied_on"])
        a["approved_on"] = _date(a["approved_on"])
        a["last_event_at"] = _time(a["last_event_at"])
        a["months"] = by_app.get(a["application_id"], [])
    return apps

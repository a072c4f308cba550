"""Read-model queries of the public-welfare posts (migration 0012): the posts of some
regions, one post, its holdings, and the counts per county.

A region selection is a set of county or city codes (``None``: every region), as the money
queries take it. Amounts come back as :class:`decimal.Decimal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from projections.client import Store
from projections.money_queries import MONTHS, _date, _regions

__all__ = ["POSTS", "by_county", "holdings", "post", "posts"]

#: Every opened post with its slots taken.
POSTS = """
SELECT * FROM (
    SELECT post_id, argMaxMerge(region) AS region, argMaxMerge(city) AS city,
           argMaxMerge(title) AS title, argMaxMerge(village) AS village,
           argMaxMerge(employer_name) AS employer_name, argMaxMerge(slots) AS slots,
           argMaxMerge(days_required) AS days_required, max(opened_on) AS opened_on,
           max(opened) AS opened, greatest(sum(seated), 0) AS seated,
           sum(overbooked) AS overbooked
    FROM welfare_posts {prewhere}
    GROUP BY post_id
) WHERE opened = 1 AND {where}
"""


def _post_row(row: dict[str, Any]) -> dict[str, Any]:
    slots, seated = int(row["slots"]), int(row["seated"])
    return {
        "post_id": row["post_id"],
        "region": row["region"],
        "city": row["city"],
        "title": row["title"],
        "village": row["village"] or None,
        "employer_name": row["employer_name"] or None,
        "slots": slots,
        "seated": seated,
        "vacant": max(slots - seated, 0),
        "days_required": int(row["days_required"]),
        "opened_on": _date(row["opened_on"]),
        "overbooked": int(row["overbooked"]),
    }


def posts(store: Store, regions: Iterable[str] | None) -> list[dict[str, Any]]:
    """The posts of ``regions``, by county then id."""
    where, params = _regions(regions, "region")
    sql = POSTS.format(prewhere="", where=where) + " ORDER BY region, post_id"
    return [_post_row(r) for r in store.dicts(sql, params)]


def post(store: Store, post_id: str) -> dict[str, Any] | None:
    """One post (None: not opened, or not projected yet)."""
    sql = POSTS.format(prewhere="WHERE post_id = {post:String}", where="1 = 1")
    rows = store.dicts(sql, {"post": post_id})
    return _post_row(rows[0]) if rows else None


def holdings(store: Store, post_id: str) -> list[dict[str, Any]]:
    """Who holds or held ``post_id``: from which month to which, whether they left and
    why, the months of attendance recorded, what was entitled and paid (masked names)."""
    sql = f"""
    WITH h AS (
        SELECT application_id, argMaxMerge(person_id) AS person_id,
               argMaxMerge(first_month) AS first_month, argMaxMerge(last_month) AS last_month,
               max(starts_on) AS starts_on, max(vacated) AS vacated,
               argMaxMerge(cause) AS cause,
               groupUniqArrayArray(months_recorded) AS months_recorded
        FROM welfare_post_holdings WHERE post_id = {{post:String}}
        GROUP BY application_id
    ),
    m AS (
        SELECT application_id, sum(entitled) AS entitled, sum(paid) AS paid
        FROM ({MONTHS}) GROUP BY application_id
    )
    SELECT h.application_id AS application_id, h.person_id AS person_id,
           h.first_month AS first_month, h.last_month AS last_month,
           h.starts_on AS starts_on, h.vacated AS vacated, h.cause AS cause,
           h.months_recorded AS months_recorded,
           m.entitled AS entitled, m.paid AS paid, c.name_masked AS name_masked
    FROM h
    LEFT JOIN m ON m.application_id = h.application_id
    LEFT JOIN (SELECT person_id, argMaxMerge(name_masked) AS name_masked FROM case_ledger
               GROUP BY person_id) AS c ON c.person_id = h.person_id
    ORDER BY h.vacated, h.first_month, h.application_id
    """
    out = []
    for r in store.dicts(sql, {"post": post_id}):
        out.append(
            {
                "application_id": r["application_id"],
                "person_id": r["person_id"],
                "name_masked": r["name_masked"] or None,
                "first_month": r["first_month"] or None,
                "last_month": r["last_month"] or None,
                "starts_on": _date(r["starts_on"]),
                "vacated": bool(r["vacated"]),
                "cause": r["cause"] or None,
                "months_recorded": sorted(m for m in r["months_recorded"] if m),
                "entitled": Decimal(str(r["entitled"] or 0)),
                "paid": Decimal(str(r["paid"] or 0)),
            }
        )
    return out


def by_county(store: Store, regions: Iterable[str] | None) -> dict[str, dict[str, int]]:
    """Per county: posts, slots, slots taken (holders) and vacant."""
    where, params = _regions(regions, "region")
    sql = (
        "SELECT region, count() AS posts, sum(slots) AS slots, sum(seated) AS seated "
        f"FROM ({POSTS.format(prewhere='', where=where)}) GROUP BY region ORDER BY region"
    )
    out: dict[str, dict[str, int]] = {}
    for r in store.dicts(sql, params):
        slots, seated = int(r["slots"]), int(r["seated"])
        out[str(r["region"])] = {"posts": int(r["posts"]), "slots": slots, "seated": seated,
                                 "vacant": max(slots - seated, 0)}  # fmt: skip
    return out

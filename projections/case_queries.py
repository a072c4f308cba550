"""Read-model queries of the case ledger (援助台账): case officers' worklists, leads,
zero-employment households, one person's case and timeline, and the audit of person reads.

The tables are migrations 0009 and 0010. A worklist names whose cases it wants (an
``officer``, an ``office``, ``regions``: codes of regions or cities) and reads one key range
of ``case_worklist`` (each case finalised under every key it was ever found by, kept by
:mod:`projections.worklist`; the newest row of a key and person wins), checked against the
row's current values; a list of every
case reads the ledger itself. A worklist is as fresh as the keeper's last write (a moment
behind the projector; ``/api/status`` ``worklist.pending``). Dates the ledger does not know
come back as None, never as 1970-01-01.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from events.labels import label
from projections.client import Store, aware

__all__ = [
    "ALL",
    "Page",
    "Selection",
    "case_summary",
    "caseload",
    "clearing_progress",
    "leads_funnel",
    "leads_to_contact",
    "ownership_periods",
    "person_case",
    "person_reads",
    "person_timeline",
    "plan_reviews",
    "silent_persons",
    "visits_due",
    "zero_employment",
]

_EPOCH = dt.date(1970, 1, 1)
_ZERO_TIME = "toDateTime64(0, 3, 'Asia/Shanghai')"

#: The current state of each case (one row per person), over ``{where}``.
LEDGER = f"""
SELECT person_id,
       argMaxMerge(region) AS region, argMaxMerge(city) AS city,
       argMaxMerge(household_id) AS household_id, argMinMerge(applied_group) AS applied_group,
       argMaxMerge(national_id_masked) AS national_id_masked,
       argMaxMerge(name_masked) AS name_masked, argMaxMerge(phone_masked) AS phone_masked,
       argMinMerge(registered_on) AS registered_on,
       if(max(handed_at) > {_ZERO_TIME}, argMaxMerge(handed_office), argMinMerge(first_office))
           AS office,
       if(max(handed_at) > {_ZERO_TIME}, argMaxMerge(handed_officer),
          argMinMerge(first_officer)) AS officer,
       if(max(handed_at) > {_ZERO_TIME}, max(handed_at), argMinMerge(assigned_at)) AS owner_since,
       argMaxMerge(visit_due) AS visit_due, argMaxMerge(visit_basis) AS visit_basis,
       max(last_visit) AS last_visit, max(last_contact) AS last_contact,
       argMaxMerge(plan_active) AS plan_active, argMaxMerge(plan_id) AS plan_id,
       argMaxMerge(plan_version) AS plan_version, argMaxMerge(review_due) AS review_due,
       sum(unjustified_refusals) AS unjustified_refusals, max(placed_on) AS placed_on,
       max(exited_on) AS exited_on, argMaxMerge(exit_reason) AS exit_reason,
       max(discovered_at) AS discovered_at, max(last_event_at) AS last_event_at,
       sum(events) AS events, groupUniqArrayArray(keys_ever) AS keys
FROM case_ledger {{where}} GROUP BY person_id
"""

#: Open cases: registered and not exited.
_OPEN = "registered_on > toDate(0) AND exited_on = toDate(0)"


@dataclass(frozen=True)
class Selection:
    """Whose cases a worklist reads: an officer's, an office's, and/or those in ``regions``
    (region or city codes); nothing given reads every case."""

    officer: str | None = None
    office: str | None = None
    regions: frozenset[str] | None = None

    def index(self) -> str | None:
        """The worklist's condition for the narrowest key given (None: every case)."""
        if self.officer:
            return "dimension = 'officer' AND key = {officer:String}"
        if self.office:
            return "dimension = 'office' AND key = {office:String}"
        if self.regions is not None:
            return "dimension IN ('region', 'city') AND key IN {regions:Array(String)}"
        return None

    def check(self) -> str:
        """The condition a candidate's current values must meet (the index is never
        retracted: a handed-over case stays under its former officer's key)."""
        parts = ["1 = 1"]
        if self.officer:
            parts.append("officer = {officer:String}")
        if self.office:
            parts.append("office = {office:String}")
        if self.regions is not None:
            parts.append("(region IN {regions:Array(String)} OR city IN {regions:Array(String)})")
        return " AND ".join(parts)

    def params(self) -> dict[str, Any]:
        """The query parameters of the selection."""
        return {
            "officer": self.officer or "",
            "office": self.office or "",
            "regions": sorted(self.regions or ()),
        }


def _date(value: Any) -> dt.date | None:
    return None if value is None or value == _EPOCH else value


def _time(value: Any) -> dt.datetime | None:
    if value is None or value.year < 1971:
        return None
    return aware(value)  # type: ignore[no-any-return]


def _case(row: dict[str, Any], groups: Sequence[str]) -> dict[str, Any]:
    """A ledger row for people: no 1970 dates, the groups, the status and the plan."""
    for key in ("registered_on", "visit_due", "last_visit", "last_contact", "review_due",
                "placed_on", "exited_on"):  # fmt: skip
        row[key] = _date(row[key])
    for key in ("owner_since", "discovered_at", "last_event_at"):
        row[key] = _time(row[key])
    row["groups"] = sorted(groups)
    row["exited"] = row["exited_on"] is not None
    row["status"] = (
        "exited"
        if row["exited"]
        else "recognised"
        if groups
        else "registered"
        if row["registered_on"]
        else "lead"
    )
    active = bool(row.pop("plan_active")) and not row["exited"]
    row["plan"] = (
        {
            "plan_id": row["plan_id"],
            "version": int(row["plan_version"]),
            "review_due": row["review_due"],
        }  # fmt: skip
        if active and row["plan_id"]
        else None
    )
    for key in ("plan_id", "plan_version", "review_due"):
        row.pop(key)
    row.pop("keys", None)
    row["exit_reason"] = row["exit_reason"] or None
    row["unjustified_refusals"] = int(row["unjustified_refusals"])
    row["events"] = int(row["events"])
    return row


def groups_query(where: str) -> str:
    """Per person over ``where`` (a ``WHERE`` of ``case_groups``): the groups recognised now."""
    return (
        "SELECT person_id, groupArray(target_group) AS groups FROM (SELECT person_id, "
        "target_group, argMaxMerge(recognised) AS r FROM case_groups "
        f"{where} GROUP BY person_id, target_group) WHERE r = 1 GROUP BY person_id"
    )


_NO_LIMIT = 2**64 - 1  # ClickHouse's UInt64 maximum: "all the rest"


@dataclass(frozen=True)
class Page:
    """Which cases of a list, in person order: ``limit`` of them (None: all) from ``offset``."""

    limit: int | None = None
    offset: int = 0

    def sql(self) -> str:
        """The ``LIMIT`` clause (empty for all of the list)."""
        if self.limit is None and not self.offset:
            return ""
        # OFFSET alone cannot follow LIMIT … BY: an offset without a limit takes the largest one
        limit = _NO_LIMIT if self.limit is None else int(self.limit)
        return f" LIMIT {limit} OFFSET {int(self.offset)}"


ALL = Page()


def _cases(
    store: Store, sel: Selection, condition: str, extra: dict[str, Any], page: Page = ALL
) -> list[dict[str, Any]]:
    """The selection's cases that meet ``condition`` (over the ledger's columns): one key
    range of the worklist (migration 0010) whose rows are checked against what the
    selection asks (a handed-over case stays under its former officer's key, holding its
    new officer); every case, when the selection names none, from the ledger itself."""
    index = sel.index()
    if index is None:
        rows = store.dicts(
            f"SELECT * FROM ({LEDGER.format(where='')}) AS l LEFT JOIN "
            f"({groups_query('')}) AS g USING (person_id) WHERE {sel.check()} AND {condition} "
            f"ORDER BY person_id{page.sql()}",
            sel.params() | extra,
        )
    else:
        # the newest row of each (key, person) wins, as FINAL would merge it (without its
        # cost: ~50 ms of an officer's ~80 at a million persons); then each person once
        rows = store.dicts(
            "SELECT * EXCEPT (dimension, key, version) FROM (SELECT * FROM case_worklist "
            f"WHERE {index} ORDER BY dimension, key, person_id, version DESC "
            f"LIMIT 1 BY dimension, key, person_id) WHERE {sel.check()} AND {condition} "
            f"ORDER BY person_id LIMIT 1 BY person_id{page.sql()}",
            sel.params() | extra,
        )
    return [_case(r, r.pop("groups")) for r in rows]


def caseload(
    store: Store, sel: Selection, *, include_exited: bool = False, page: Page = ALL
) -> list[dict[str, Any]]:
    """The cases of the selection (open ones unless ``include_exited``), by person; one
    ``page`` of them (a county's list runs to thousands)."""
    condition = "registered_on > toDate(0)" if include_exited else _OPEN
    return _cases(store, sel, condition, {}, page)


def visits_due(
    store: Store, sel: Selection, day: dt.date, within_days: int = 0
) -> list[dict[str, Any]]:
    """Open cases whose next regular visit is due by ``day`` + ``within_days``: overdue
    ones (due before ``day``) first, then by due day."""
    rows = _cases(
        store,
        sel,
        f"{_OPEN} AND visit_due > toDate(0) AND visit_due <= {{until:Date}}",
        {"until": day + dt.timedelta(days=within_days)},
    )
    for r in rows:
        r["days_overdue"] = max((day - r["visit_due"]).days, 0)
        r["overdue"] = r["visit_due"] < day
    return sorted(rows, key=lambda r: (r["visit_due"], r["person_id"]))


def plan_reviews(
    store: Store, sel: Selection, day: dt.date, within_days: int = 7
) -> list[dict[str, Any]]:
    """Work items: active plans whose review is due by ``day`` + ``within_days`` (overdue
    ones, due before ``day``, first)."""
    rows = _cases(
        store,
        sel,
        f"{_OPEN} AND plan_active = 1 AND review_due > toDate(0) AND review_due <= {{until:Date}}",
        {"until": day + dt.timedelta(days=within_days)},
    )
    for r in rows:
        due = r["plan"]["review_due"]
        r["overdue"] = due < day
        r["days_overdue"] = max((day - due).days, 0)
    return sorted(rows, key=lambda r: (r["plan"]["review_due"], r["person_id"]))


def silent_persons(store: Store, sel: Selection, day: dt.date, days: int) -> list[dict[str, Any]]:
    """不声不响: open cases with no contact in the ``days`` before ``day`` (a case never
    contacted counts from its registration), the longest silent first."""
    rows = _cases(
        store,
        sel,
        f"{_OPEN} AND greatest(last_contact, registered_on) < {{since:Date}}",
        {"since": day - dt.timedelta(days=days)},
    )
    for r in rows:
        r["silent_since"] = r["last_contact"] or r["registered_on"]
        r["days_silent"] = (day - r["silent_since"]).days
    return sorted(rows, key=lambda r: (-r["days_silent"], r["person_id"]))


_LEADS = f"""
SELECT person_id, lead_id, argMaxMerge(region) AS region, argMaxMerge(city) AS city,
       argMaxMerge(lead_source) AS source, argMaxMerge(suggested_group) AS suggested_group,
       argMaxMerge(stage) AS stage, argMaxMerge(office) AS office,
       argMaxMerge(officer) AS officer, argMaxMerge(decline_reason) AS decline_reason,
       max(discovered_at) AS discovered_at, max(assigned_at) AS assigned_at,
       max(contacted_at) AS contacted_at, max(converted_at) AS converted_at,
       max(declined_at) AS declined_at
FROM case_leads {{where}} GROUP BY person_id, lead_id
HAVING discovered_at > {_ZERO_TIME}
"""


def _lead(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("discovered_at", "assigned_at", "contacted_at", "converted_at", "declined_at"):
        row[key] = _time(row[key])
    for key in ("suggested_group", "office", "officer", "decline_reason"):
        row[key] = row[key] or None
    return row


def leads_to_contact(
    store: Store, *, officer: str | None = None, regions: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Leads assigned (to ``officer``, in ``regions``) and not yet contacted, converted or
    declined: the oldest assignment first."""
    sel = Selection(officer=officer, regions=regions)
    rows = store.dicts(
        f"SELECT * FROM ({_LEADS.format(where='')}) WHERE assigned_at > {_ZERO_TIME} "
        f"AND contacted_at = {_ZERO_TIME} AND converted_at = {_ZERO_TIME} "
        f"AND declined_at = {_ZERO_TIME} AND {sel.check()} ORDER BY assigned_at, lead_id",
        sel.params(),
    )
    return [_lead(r) for r in rows]


def person_leads(store: Store, person_id: str) -> list[dict[str, Any]]:
    """A person's leads with their stage, the earliest discovered first."""
    rows = store.dicts(
        f"SELECT * FROM ({_LEADS.format(where='WHERE person_id = {p:String}')}) "
        "ORDER BY discovered_at, lead_id",
        {"p": person_id},
    )
    return [_lead(r) for r in rows]


def leads_funnel(store: Store, regions: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Per county (the lead's region): leads discovered, and how many reached each later
    stage: assigned, contacted (or beyond), converted, declined; still open."""
    sel = Selection(regions=regions)
    z = _ZERO_TIME
    rows = store.dicts(
        f"SELECT region, city, count() AS discovered, "
        f"countIf(assigned_at > {z} OR contacted_at > {z} OR converted_at > {z} "
        f"OR declined_at > {z}) AS assigned, "
        f"countIf(contacted_at > {z} OR converted_at > {z} OR declined_at > {z}) AS contacted, "
        f"countIf(stage = 'converted') AS converted, countIf(stage = 'declined') AS declined "
        f"FROM ({_LEADS.format(where='')}) WHERE {sel.check()} "
        "GROUP BY region, city ORDER BY region",
        sel.params(),
    )
    for r in rows:
        for key in ("discovered", "assigned", "contacted", "converted", "declined"):
            r[key] = int(r[key])
        r["open"] = r["discovered"] - r["converted"] - r["declined"]
    return rows


_HOUSEHOLDS = """
SELECT household_id, argMaxMerge(region) AS region, argMaxMerge(city) AS city,
       argMaxMerge(open) AS is_open, argMaxMerge(members) AS members_of_working_age,
       argMaxMerge(identified_on) AS identified_on, argMaxMerge(deadline) AS deadline,
       argMaxMerge(cleared_on) AS cleared_on, argMaxMerge(on_time) AS on_time_given,
       argMaxMerge(escalated_to) AS escalated_to, max(escalated_at) AS escalated_at,
       max(identified_at) AS identified_at
FROM zero_employment_households GROUP BY household_id
"""

#: Per household of the current episode: cleared on time (the event's own judgement, else
#: the clearing day against the deadline), overdue (open past its deadline).
_HOUSEHOLD_FLAGS = """
SELECT *, is_open = 0 AND (on_time_given = 1 OR (on_time_given = -1 AND deadline > toDate(0)
          AND cleared_on <= deadline)) AS is_on_time,
       is_open = 1 AND deadline > toDate(0) AND deadline < {day:Date} AS is_overdue,
       is_open = 1 AND escalated_at >= identified_at AS is_escalated
FROM (%s) WHERE identified_at > toDateTime64(0, 3, 'Asia/Shanghai')
"""

_COUNTS = (
    "count() AS identified, countIf(is_open = 0) AS cleared, "
    "countIf(is_on_time) AS cleared_on_time, countIf(is_open = 1) AS open, "
    "countIf(is_overdue) AS overdue, countIf(is_escalated) AS escalated"
)


def _household_counts(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("identified", "cleared", "cleared_on_time", "open", "overdue", "escalated"):
        row[key] = int(row[key])
    return row


def zero_employment(
    store: Store, day: dt.date, regions: frozenset[str] | None = None, near_days: int = 7
) -> dict[str, Any]:
    """Zero-employment households per county (identified, cleared, cleared on time, open,
    overdue, escalated), and the open ones whose deadline falls by ``day`` + ``near_days``
    (overdue ones included, ``days_left`` below zero), the nearest deadline first."""
    sel = Selection(regions=regions)
    flags = _HOUSEHOLD_FLAGS % _HOUSEHOLDS
    params = sel.params() | {"day": day, "until": day + dt.timedelta(days=near_days)}
    counties = store.dicts(
        f"SELECT region, city, {_COUNTS} FROM ({flags}) WHERE {sel.check()} "
        "GROUP BY region, city ORDER BY region",
        params,
    )
    near = store.dicts(
        f"SELECT household_id, region, city, members_of_working_age, identified_on, deadline, "
        f"is_overdue AS overdue, is_escalated AS escalated, escalated_to FROM ({flags}) "
        "WHERE is_open = 1 AND "
        "deadline > toDate(0) AND deadline <= {until:Date} AND "
        f"{sel.check()} ORDER BY deadline, household_id",
        params,
    )
    for h in near:
        h["days_left"] = (h["deadline"] - day).days
        h["overdue"], h["escalated"] = bool(h["overdue"]), bool(h["escalated"])
        h["escalated_to"] = h["escalated_to"] or None
        h["members_of_working_age"] = int(h["members_of_working_age"])
    return {"counties": [_household_counts(r) for r in counties], "near_deadline": near}


def clearing_progress(
    store: Store, day: dt.date, regions: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """动态清零 per city: households identified, cleared (on time), open, overdue, and the
    share cleared (None for a city with none identified)."""
    sel = Selection(regions=regions)
    rows = store.dicts(
        f"SELECT city, {_COUNTS} FROM ({_HOUSEHOLD_FLAGS % _HOUSEHOLDS}) WHERE {sel.check()} "
        "GROUP BY city ORDER BY city",
        sel.params() | {"day": day},
    )
    for r in rows:
        _household_counts(r)
        r["region"] = r["city"]
        r["cleared_share"] = r["cleared"] / r["identified"] if r["identified"] else None
    return rows


def case_summary(
    store: Store, day: dt.date, regions: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """Per city, over every case (the demo's table, a city's supervisor): open cases, those
    recognised in a group now, visits overdue on ``day``, active plans, and cases exited.
    It reads the whole ledger in the selection (~6.5 s a million persons): a summary, not a
    worklist."""
    sel = Selection(regions=regions)
    recognised = (
        "SELECT person_id FROM (SELECT person_id, target_group, argMaxMerge(recognised) AS r "
        "FROM case_groups GROUP BY person_id, target_group) WHERE r = 1"
    )
    rows = store.dicts(
        f"SELECT city, countIf({_OPEN}) AS open, "
        f"countIf({_OPEN} AND person_id IN ({recognised})) AS recognised, "
        f"countIf({_OPEN} AND visit_due > toDate(0) AND visit_due < {{day:Date}}) "
        "AS visits_overdue, "
        f"countIf({_OPEN} AND plan_active = 1) AS plans_active, "
        "countIf(registered_on > toDate(0) AND exited_on > toDate(0)) AS exited "
        f"FROM ({LEDGER.format(where='')}) WHERE {sel.check()} AND registered_on > toDate(0) "
        "GROUP BY city ORDER BY city",
        sel.params() | {"day": day},
    )
    for r in rows:
        for key in ("open", "recognised", "visits_overdue", "plans_active", "exited"):
            r[key] = int(r[key])
        r["region"] = r["city"]
    return rows


def person_case(store: Store, person_id: str) -> dict[str, Any] | None:
    """One person's case (masked identity, groups with the rule behind each, office and
    officer and who owned it when, schedule, plan, refusals, exit, leads), or None."""
    rows = store.dicts(LEDGER.format(where="WHERE person_id = {p:String}"), {"p": person_id})
    if not rows:
        return None
    groups = store.dicts(
        "SELECT target_group, argMaxMerge(since) AS since, argMaxMerge(rule_set) AS rule_set, "
        "argMaxMerge(rule_id) AS rule_id FROM case_groups WHERE person_id = {p:String} "
        "GROUP BY target_group HAVING argMaxMerge(recognised) = 1 ORDER BY target_group",
        {"p": person_id},
    )
    case = _case(rows[0], [g["target_group"] for g in groups])
    case["recognitions"] = [
        g | {"rule_set": g["rule_set"] or None, "rule_id": g["rule_id"] or None} for g in groups
    ]
    case["ownership"] = ownership_periods(
        person_timeline(store, person_id, ("case.assigned", "case.handed_over"))
    )
    case["leads"] = person_leads(store, person_id)
    return case


def person_timeline(
    store: Store, person_id: str, types: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every event of a person (or those of ``types``) in log order, each with its zh and
    en label and its payload (masked identity only: ingest removed the rest)."""
    where = "person_id = {p:String}" + (" AND event_type IN {t:Array(String)}" if types else "")
    rows = store.dicts(
        "SELECT event_id, event_type, occurred_at, recorded_at, region, source, actor, payload "
        f"FROM case_timeline WHERE {where} ORDER BY kafka_partition, kafka_offset",
        {"p": person_id, "t": list(types)},
    )
    for r in rows:
        r["event_id"] = str(r["event_id"])
        r["occurred_at"], r["recorded_at"] = aware(r["occurred_at"]), aware(r["recorded_at"])
        r["label"] = {"zh": label(r["event_type"], "zh"), "en": label(r["event_type"], "en")}
        r["payload"] = orjson.loads(r["payload"])
    return rows


def ownership_periods(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who owned a case when, from its assignments and handovers in log order: the first
    assignment owns it (first-inquiry responsibility; a later assignment while owned changes
    nothing) until a handover, which opens the next period. Pure."""
    periods: list[dict[str, Any]] = []
    for e in events:
        p = e["payload"]
        if e["event_type"] == "case.assigned" and periods:
            continue
        if e["event_type"] not in ("case.assigned", "case.handed_over"):
            continue
        if periods:
            periods[-1]["until"] = e["occurred_at"]
        periods.append(
            {
                "office": p.get("office"),
                "officer": p.get("officer"),
                "since": e["occurred_at"],
                "until": None,
                "reason": p.get("reason"),
                "by": e.get("actor"),
            }  # fmt: skip
        )
    return periods


def person_reads(
    store: Store,
    *,
    actor: str | None = None,
    person_id: str | None = None,
    regions: frozenset[str] | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Who read whose detail, when, why and what (``audit.person_read``), the newest first."""
    sel = Selection(regions=regions)
    rows = store.dicts(
        "SELECT * FROM (SELECT event_id, occurred_at AS read_at, actor, "
        "JSONExtractString(payload, 'subject') AS person_id, "
        "JSONExtractString(payload, 'purpose') AS purpose, "
        "JSONExtractString(payload, 'view') AS view, toString(region) AS region, "
        "toString(city) AS city, kafka_offset FROM events "
        "WHERE event_type = 'audit.person_read') "
        "WHERE ({a:String} = '' OR actor = {a:String}) "
        "AND ({s:String} = '' OR person_id = {s:String}) AND " + sel.check() + " "
        "ORDER BY read_at DESC, kafka_offset DESC LIMIT {n:UInt32}",
        sel.params() | {"a": actor or "", "s": person_id or "", "n": limit},
    )
    for r in rows:
        r["event_id"] = str(r["event_id"])
        r["read_at"] = aware(r["read_at"])
        r.pop("kafka_offset")
    return rows

"""Read-model queries over contingency-playbook runs and temporary assistance.

They read the ``playbook_runs``, ``playbook_steps`` and ``temporary_assistance`` projections
(migration 0006), and ``events`` for what a run produced (enrolments, payments, posts,
fairs). Every function is synchronous, takes a ``Store`` and returns plain values: dicts
and lists, tz-aware datetimes, ``None`` where something has not happened.

``active_runs`` feeds the notification stage: while a run is active (activated, not yet
closed or declined, not a drill), alerts in its area at or below its severity variant are
inhibited — the incident team is already on them. The playbook runtime folds its runs
from ``run_events`` and reads the disaster flags and payments its actions depend on
(``active_flags``, ``disaster_regions``, ``disaster_cleared_at``, ``paid_applications``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from events.severity import rank
from projections.client import Store, aware
from projections.queries import ACTIVE_DISASTER_AREAS

__all__ = [
    "RUN_STATUSES",
    "ActiveRun",
    "active_flags",
    "active_runs",
    "board",
    "disaster_cleared_at",
    "disaster_regions",
    "enrolled_persons",
    "enrolment_by_region",
    "enrolment_candidates",
    "get_run",
    "list_runs",
    "paid_applications",
    "run_events",
    "run_outcomes",
    "run_steps",
    "run_timeline",
]

RUN_STATUSES: tuple[str, ...] = ("proposed", "active", "declined", "closed")

_RUNS = """
SELECT run_id, max(playbook_id) AS playbook_id, max(area) AS area, max(region) AS region,
       max(city) AS city, argMaxIfMerge(level) AS level, max(drill) AS drill,
       max(trigger_alert_id) AS trigger_alert_id, max(disaster_id) AS disaster_id,
       min(proposed_at) AS proposed_at, max(activated_at) AS activated_at,
       argMaxIfMerge(activated_by) AS activated_by, max(declined_at) AS declined_at,
       argMaxIfMerge(declined_by) AS declined_by,
       argMaxIfMerge(decline_reason) AS decline_reason, max(closed_at) AS closed_at,
       argMaxIfMerge(closed_by) AS closed_by, max(forced) AS forced,
       argMaxIfMerge(close_reason) AS close_reason, argMaxIfMerge(outcome) AS outcome,
       argMaxIfMerge(report) AS report, sum(notes) AS notes,
       min(first_event_at) AS first_event_at, max(last_event_at) AS last_event_at,
       sum(events) AS events
FROM playbook_runs {where} GROUP BY run_id
"""

_STEPS = """
SELECT run_id, step_id, argMaxIfMerge(owner_role) AS owner_role,
       argMaxIfMerge(assignee) AS assignee, argMaxIfMerge(due_at) AS due_at,
       max(assigned_at) AS assigned_at, sum(assignments) AS assignments,
       max(completed_at) AS completed_at, argMaxIfMerge(completed_by) AS completed_by,
       argMaxIfMerge(outcome) AS outcome, argMaxIfMerge(note) AS note,
       argMaxIfMerge(evidence) AS evidence, argMaxIfMerge(counts) AS counts,
       max(overdue_at) AS overdue_at, max(overdue_due_at) AS overdue_due_at,
       sum(notes) AS notes, min(first_event_at) AS first_event_at,
       min(first_offset) AS first_offset
FROM playbook_steps WHERE has({runs:Array(String)}, run_id) GROUP BY run_id, step_id
ORDER BY run_id, first_event_at, first_offset, step_id
"""

#: Each person's latest enrolment, with ``ended`` resolved (an end later than it).
_ENROLMENTS = """
SELECT person_id, region, city, run_id, disaster_id, enrolled_at,
       toDateOrNull(ends_on) AS ends_on, toUInt8(ended_at > enrolled_at) AS is_ended
FROM (
    SELECT person_id, argMaxIfMerge(region) AS region, argMaxIfMerge(city) AS city,
           argMaxIfMerge(run_id) AS run_id, argMaxIfMerge(disaster_id) AS disaster_id,
           argMaxIfMerge(ends_on) AS ends_on, max(enrolled_at) AS enrolled_at,
           max(ended_at) AS ended_at
    FROM temporary_assistance GROUP BY person_id HAVING sum(enrolments) > 0
)
"""

#: Events a run produced outside its own stream; ``{r}`` is the run id, ``{p}`` ``<run>:``.
_OUTCOME_EVENTS = """
(event_type IN ('temporary_assistance.enrolled', 'job_fair.scheduled')
     AND JSONExtractString(payload, 'playbook_run_id') = {r:String})
 OR (event_type = 'subsidy.paid' AND source = 'eams.playbooks'
     AND startsWith(JSONExtractString(payload, 'application_id'), {p:String}))
 OR (event_type = 'welfare_post.opened' AND source = 'eams.playbooks'
     AND startsWith(JSONExtractString(payload, 'post_id'), {p:String}))
"""

_EPOCH_YEAR = 1971
_RUN_TIMES = ("proposed_at", "activated_at", "declined_at", "closed_at", "last_event_at")
_RUN_TEXTS = (
    "level", "trigger_alert_id", "disaster_id", "activated_by", "declined_by",
    "decline_reason", "closed_by", "close_reason", "outcome", "report",
)  # fmt: skip
_STEP_TEXTS = ("assignee", "completed_by", "outcome", "note", "evidence")


def _time(value: Any) -> dt.datetime | None:
    """A stored time made tz-aware, or None for the epoch ("never") and NULL."""
    if value is None or value.year < _EPOCH_YEAR:
        return None
    result: dt.datetime = aware(value)
    return result


def _text(value: Any) -> str | None:
    return str(value) if value else None


@dataclass(frozen=True)
class ActiveRun:
    """A playbook run under way: its area and severity variant (None: every level)."""

    run_id: str
    playbook_id: str
    region: str
    level: str | None


# -- runs --------------------------------------------------------------------------------


def _clean_run(row: dict[str, Any]) -> dict[str, Any]:
    for key in _RUN_TIMES:
        row[key] = _time(row[key])
    for key in _RUN_TEXTS:
        row[key] = _text(row[key])
    if row["closed_at"] is not None:
        row["status"] = "closed"
    elif row["declined_at"] is not None:
        row["status"] = "declined"
    elif row["activated_at"] is not None:
        row["status"] = "active"
    else:
        row["status"] = "proposed"
    # a run seen only through later events still has its events' region as its area
    row["area"] = row["area"] or row["region"]
    row["drill"] = bool(row["drill"])
    row["forced"] = bool(row["forced"])
    row["notes"] = int(row["notes"])
    row["events"] = int(row["events"])
    row["_since"] = row["proposed_at"] or aware(row["first_event_at"])
    for key in ("region", "first_event_at"):
        del row[key]
    return row


def _runs(store: Store, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every run (or one), cleaned, newest first; runs known only by stray events (no
    proposal, activation or decline seen) are left out."""
    if run_id is None:
        rows = store.dicts(_RUNS.format(where=""))
    else:
        rows = store.dicts(_RUNS.format(where="WHERE run_id = {r:String}"), {"r": run_id})
    runs = [_clean_run(r) for r in rows if r["playbook_id"]]
    runs.sort(key=lambda r: (r["_since"], r["run_id"]), reverse=True)
    for run in runs:
        del run["_since"]
    return runs


def list_runs(
    store: Store, *, status: str | None = None, regions: set[str] | None = None
) -> list[dict[str, Any]]:
    """Runs, newest first (by proposal), drills included and flagged (``drill``).

    ``status`` is one of ``RUN_STATUSES``; ``regions`` keeps runs whose area or city is
    one of the codes. Each run: run_id, playbook_id, status, area, city, level, drill,
    trigger_alert_id, disaster_id, proposed_at, activated_at, activated_by, declined_at,
    declined_by, decline_reason, closed_at, closed_by, forced, close_reason, outcome,
    report (JSON text of the after-action report), notes, events, last_event_at.
    """
    if status is not None and status not in RUN_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    runs = _runs(store)
    if status is not None:
        runs = [r for r in runs if r["status"] == status]
    if regions:
        runs = [r for r in runs if r["area"] in regions or r["city"] in regions]
    return runs


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """One run as ``list_runs`` shows it, or None if no such run was proposed."""
    runs = _runs(store, run_id)
    return runs[0] if runs else None


def active_runs(store: Store) -> list[ActiveRun]:
    """Runs activated and not closed or declined, drills excluded."""
    return [
        ActiveRun(r["run_id"], r["playbook_id"], r["area"], r["level"])
        for r in _runs(store)
        if r["status"] == "active" and not r["drill"]
    ]


# -- steps -------------------------------------------------------------------------------


def _clean_step(row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    for key in ("assigned_at", "completed_at", "overdue_at"):
        row[key] = _time(row[key])
    for key in _STEP_TEXTS:
        row[key] = _text(row[key])
    # an overdue mark carries the deadline it missed, should no assignment have named one
    missed = _time(row.pop("overdue_due_at"))
    row["due_at"] = _time(row["due_at"]) or missed
    completed = row["completed_at"] is not None
    row["status"] = "completed" if completed else "assigned"
    past_due = row["due_at"] is not None and row["due_at"] < now
    row["overdue"] = not completed and (past_due or row["overdue_at"] is not None)
    row["counts"] = orjson.loads(row["counts"]) if completed and row["counts"] else {}
    row["assignments"] = int(row["assignments"])
    row["notes"] = int(row["notes"])
    for key in ("first_event_at", "first_offset"):
        del row[key]
    return row


def _steps(store: Store, run_ids: list[str], now: dt.datetime) -> list[dict[str, Any]]:
    rows = store.dicts(_STEPS, {"runs": run_ids})
    # a step known only by a note (never assigned, completed or overdue) is not a step
    known = [
        r
        for r in rows
        if r["assignments"]
        or r["completed_at"].year >= _EPOCH_YEAR
        or r["overdue_at"].year >= _EPOCH_YEAR
    ]
    return [_clean_step(r, now) for r in known]


def run_steps(store: Store, run_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    """A run's steps in assignment order.

    Each: run_id, step_id, owner_role, assignee and due_at (of the latest assignment that
    named them), assigned_at, assignments, status (``assigned`` | ``completed``), overdue
    (not completed, and past ``due_at`` at ``now`` or marked overdue), overdue_at,
    completed_at, completed_by, outcome, note, evidence, counts (dict), notes.
    """
    return _steps(store, [run_id], now)


def board(store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    """The incident board: active runs (drills included), most severe level first, then
    newest; each run as ``list_runs`` shows it plus ``steps`` (as ``run_steps``),
    ``open_steps``, ``overdue_steps`` and ``owners`` (sorted owner roles of open steps)."""
    runs = [r for r in _runs(store) if r["status"] == "active"]
    steps: dict[str, list[dict[str, Any]]] = {r["run_id"]: [] for r in runs}
    for step in _steps(store, list(steps), now):
        steps[step["run_id"]].append(step)
    for run in runs:
        mine = steps[run["run_id"]]
        open_ = [s for s in mine if s["status"] != "completed"]
        run["steps"] = mine
        run["open_steps"] = len(open_)
        run["overdue_steps"] = sum(1 for s in open_ if s["overdue"])
        run["owners"] = sorted({s["owner_role"] for s in open_ if s["owner_role"]})
    # Stable: newest first within a level; a run without a level comes last.
    runs.sort(key=lambda r: -rank(r["level"], default=0))
    return runs


# -- what a run produced -----------------------------------------------------------------


def run_timeline(store: Store, run_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """Every event of the run, and the events that name it as their cause: enrolments and
    job fairs (``playbook_run_id``), payments and welfare posts (ids ``<run_id>:…``), in
    order of occurred_at then log position. At most ``limit`` events, but the run's own
    events are never cut: the earliest outcome events fill what room is left. Each:
    event_type, occurred_at, actor, payload (JSON text)."""
    columns = "event_type, occurred_at, actor, payload, kafka_offset"
    own = store.dicts(
        f"SELECT {columns} FROM events "
        "WHERE event_type LIKE 'playbook.%' AND aggregate_id = {r:String} "
        "ORDER BY occurred_at, kafka_offset",
        {"r": run_id},
    )
    room = max(limit - len(own), 0)
    others = (
        store.dicts(
            f"SELECT {columns} FROM events WHERE {_OUTCOME_EVENTS} "
            "ORDER BY occurred_at, kafka_offset LIMIT {n:UInt32}",
            {"r": run_id, "p": f"{run_id}:", "n": room},
        )
        if room
        else []
    )
    rows = own + others
    for row in rows:
        row["occurred_at"] = aware(row["occurred_at"])
    rows.sort(key=lambda r: (r["occurred_at"], r["kafka_offset"]))
    for row in rows:
        del row["kafka_offset"]
    return rows


def run_outcomes(store: Store, run_id: str) -> dict[str, Any]:
    """What a run achieved: people_enrolled (distinct persons it enrolled), still_enrolled
    (their latest enrolment is this run's and has not ended), people_placed (persons it
    enrolled with a placement recorded after their first enrolment by it), subsidies_paid
    and subsidy_amount (payments of applications ``<run_id>:…``), welfare_posts (slots of
    posts ``<run_id>:…``) and job_fairs (fairs scheduled by it)."""
    params = {"r": run_id, "p": f"{run_id}:"}
    totals = store.dicts(
        "SELECT uniqExactIf(person_id, event_type = 'temporary_assistance.enrolled') AS e, "
        "countIf(event_type = 'subsidy.paid') AS n, "
        "sumIf(amount, event_type = 'subsidy.paid') AS a, "
        "sumIf(if(JSONHas(payload, 'slots'), JSONExtractInt(payload, 'slots'), 1), "
        "      event_type = 'welfare_post.opened') AS w, "
        "uniqExactIf(JSONExtractString(payload, 'fair_id'), event_type = 'job_fair.scheduled') "
        "AS f "
        f"FROM events WHERE {_OUTCOME_EVENTS}",
        params,
    )[0]
    still = store.scalar(
        f"SELECT count() FROM ({_ENROLMENTS}) WHERE run_id = {{r:String}} AND is_ended = 0",
        params,
    )
    placed = store.scalar(
        "SELECT uniqExact(pl.person_id) FROM events AS pl "
        "INNER JOIN (SELECT person_id, min(occurred_at) AS enrolled_at FROM events "
        "            WHERE event_type = 'temporary_assistance.enrolled' "
        "              AND JSONExtractString(payload, 'playbook_run_id') = {r:String} "
        "            GROUP BY person_id) AS en ON pl.person_id = en.person_id "
        "WHERE pl.event_type = 'placement.recorded' AND pl.occurred_at > en.enrolled_at",
        params,
    )
    return {
        "people_enrolled": int(totals["e"]),
        "still_enrolled": int(still or 0),
        "people_placed": int(placed or 0),
        "subsidies_paid": int(totals["n"]),
        "subsidy_amount": round(float(totals["a"]), 2),
        "welfare_posts": int(totals["w"]),
        "job_fairs": int(totals["f"]),
    }


# -- temporary assistance ----------------------------------------------------------------


def enrolment_by_region(store: Store, today: dt.date) -> list[dict[str, Any]]:
    """Temporary assistance per region of enrolment (``level`` ``county``) and per city
    (``level`` ``city``, the sum of its regions), cities in code order, each city's row
    before its regions'. Each: level, region, city, enrolled_now (latest enrolment not
    ended, ``ends_on`` unset or not before ``today``), enrolled_total (persons ever
    enrolled), ended (latest enrolment ended)."""
    rows = store.dicts(
        "SELECT region, city, count() AS enrolled_total, countIf(is_ended = 1) AS ended, "
        "countIf(is_ended = 0 AND (ends_on IS NULL OR ends_on >= {today:Date})) AS enrolled_now "
        f"FROM ({_ENROLMENTS}) GROUP BY region, city ORDER BY city, region",
        {"today": today},
    )
    counts = ("enrolled_now", "enrolled_total", "ended")
    out: list[dict[str, Any]] = []
    city_row: dict[str, Any] = {}
    for row in rows:
        if city_row.get("city") != row["city"]:
            city_row = {"level": "city", "region": row["city"], "city": row["city"]}
            city_row.update(dict.fromkeys(counts, 0))
            out.append(city_row)
        county = {"level": "county", "region": row["region"], "city": row["city"]}
        county.update({k: int(row[k]) for k in counts})
        for key in counts:
            city_row[key] += county[key]
        out.append(county)
    return out


def enrolment_candidates(
    store: Store, regions: list[str], disaster_id: str | None, flagged_event_ids: list[str]
) -> list[dict[str, Any]]:
    """Persons to enrol: those living in ``regions`` (their region or its city is one of
    the codes) whose current status is ``unemployed`` or ``lost_work_due_to_disaster``,
    and those whose registration cites the disaster (``disaster_id``, or ``cites_event``
    one of ``flagged_event_ids``) wherever they live. Each {person_id, region}, by id."""
    return store.dicts(
        "SELECT person_id, region FROM ("
        "  SELECT person_id, argMaxMerge(region) AS region, argMaxMerge(city) AS city, "
        "         argMaxMerge(status) AS status FROM persons GROUP BY person_id) "
        "WHERE ((has({regions:Array(String)}, region) OR has({regions:Array(String)}, city)) "
        "       AND status IN ('unemployed', 'lost_work_due_to_disaster')) "
        "   OR person_id IN ("
        "       SELECT person_id FROM events WHERE event_type = 'person.registered' "
        "       AND ((disaster_id = {d:String} AND {d:String} != '') "
        "            OR has({flagged:Array(String)}, "
        "                   lower(JSONExtractString(payload, 'cites_event'))))) "
        "ORDER BY person_id",
        {
            "regions": list(regions),
            "d": disaster_id or "",
            "flagged": [str(e).lower() for e in flagged_event_ids],
        },
    )


def enrolled_persons(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Persons whose latest enrolment is this run's and has not ended (a subsidy batch's
    recipients). Each {person_id, region, city}, by id."""
    return store.dicts(
        f"SELECT person_id, region, city FROM ({_ENROLMENTS}) "
        "WHERE run_id = {r:String} AND is_ended = 0 ORDER BY person_id",
        {"r": run_id},
    )


# -- what the runtime reads -------------------------------------------------------------


def run_events(store: Store, types: Sequence[str]) -> list[tuple[str, str, Any, dt.datetime]]:
    """Every event of ``types`` (the run events), as (aggregate_id, event_type, payload
    JSON as stored, occurred_at) in log order per run: a run's state is folded from them."""
    rows = store.rows(
        "SELECT aggregate_id, event_type, payload, occurred_at FROM events "
        "WHERE event_type IN {types:Array(String)} "
        "ORDER BY aggregate_id, kafka_partition, kafka_offset",
        {"types": list(types)},
    )
    return [(str(r[0]), str(r[1]), r[2], aware(r[3])) for r in rows]


def active_flags(store: Store) -> list[dict[str, Any]]:
    """Every active disaster flag: region, disaster_id, city, kind, severity, since,
    changed_at."""
    return store.dicts(f"SELECT * FROM ({ACTIVE_DISASTER_AREAS}) WHERE active = 1")


def disaster_regions(store: Store, disaster_id: str) -> tuple[set[str], list[str]]:
    """Every region the disaster flagged (cleared since or not), and the ids of its
    ``disaster_area.flagged`` events."""
    rows = store.dicts(
        f"SELECT region FROM ({ACTIVE_DISASTER_AREAS}) WHERE disaster_id = {{d:String}}",
        {"d": disaster_id},
    )
    ids = store.rows(
        "SELECT toString(event_id) FROM events WHERE event_type = 'disaster_area.flagged' "
        "AND JSONExtractString(payload, 'disaster_id') = {d:String}",
        {"d": disaster_id},
    )
    return {str(r["region"]) for r in rows}, [str(r[0]) for r in ids]


def disaster_cleared_at(store: Store, disaster_id: str) -> dt.datetime | None:
    """When the disaster's flags were all cleared, or None while any is active (or none
    was seen)."""
    rows = store.dicts(
        f"SELECT active, changed_at FROM ({ACTIVE_DISASTER_AREAS}) "
        "WHERE disaster_id = {d:String}",
        {"d": disaster_id},
    )
    if not rows or any(int(r["active"]) for r in rows):
        return None
    last: dt.datetime = max(aware(r["changed_at"]) for r in rows)
    return last


def paid_applications(store: Store, run_id: str) -> set[str]:
    """Application ids of the run's subsidy payments already in the log (``<run_id>:…``)."""
    rows = store.rows(
        "SELECT DISTINCT JSONExtractString(payload, 'application_id') FROM events "
        "WHERE event_type = 'subsidy.paid' AND source = 'eams.playbooks' "
        "AND startsWith(JSONExtractString(payload, 'application_id'), {p:String})",
        {"p": f"{run_id}:"},
    )
    return {str(r[0]) for r in rows}

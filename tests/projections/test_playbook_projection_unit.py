"""The playbook and temporary-assistance projections (migration 0006) and their queries,
against the real embedded ClickHouse (chDB) on a small hand-built event history.

The history is written the way the projector writes it: rows built by ``to_row`` from real
envelopes, in batches with a deduplication token. Batches arrive in reverse log order (late
and out-of-order events are normal), and every batch is written twice with its token, as a
projector restarting after a crash would: nothing may count twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections.client import Store
from projections.migrations import migrate
from projections.playbook_queries import (
    ActiveRun,
    active_runs,
    board,
    enrolled_persons,
    enrolment_by_region,
    enrolment_candidates,
    get_run,
    list_runs,
    run_outcomes,
    run_steps,
    run_timeline,
)
from projections.rows import COLUMNS, to_row

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)
NOW = T0 + dt.timedelta(hours=10)
FLAG = UUID("0190a000-0000-7000-8000-000000000001")
P1, P2, P3, P4, P5, P6, P7, P8 = (f"p_{n:032x}" for n in range(1, 9))
BATCH = 7


def t(hours: float = 0, days: float = 0) -> dt.datetime:
    """T0 plus an offset."""
    return T0 + dt.timedelta(hours=hours, days=days)


def _event(
    event_type: str,
    region: str,
    aggregate_id: str,
    at: dt.datetime,
    actor: str = "officer",
    **p: Any,
) -> Envelope:
    return internal_event(
        event_type,
        region=region,
        aggregate_id=aggregate_id,
        actor=actor,
        source="eams.playbooks",  # as the playbook runtime writes them
        payload=p,
        occurred_at=at,
    )


def run_event(
    event_type: str, run: str, region: str, at: dt.datetime, actor: str = "officer", **p: Any
) -> Envelope:
    """An event of a run's stream (aggregate = run id, region = the run's area)."""
    return _event(f"playbook.{event_type}", region, run, at, actor, run_id=run, **p)


def person_event(event_type: str, person: str, region: str, at: dt.datetime, **p: Any) -> Envelope:
    """A person event (aggregate = the pseudonym)."""
    return _event(event_type, region, person, at, person_id=person, **p)


def registered(person: str, region: str, status: str, **p: Any) -> Envelope:
    """A registration ten days before T0."""
    return person_event(
        "person.registered", person, region, t(days=-10),
        target_group="employment_difficulty", employment_status=status, **p,
    )  # fmt: skip


def history() -> list[Envelope]:
    """The event log, in log order (the offset of an event is its index)."""
    r1, r10 = "371300", "370100"
    return [
        registered(P1, "371302", "unemployed"),
        registered(P2, "371311", "lost_work_due_to_disaster"),
        registered(P3, "370102", "employed", disaster_id="d-1"),
        registered(P4, "371302", "employed", cites_event=str(FLAG)),
        registered(P5, "371302", "unemployed"),
        registered(P6, "371311", "unemployed"),
        registered(P7, "371311", "unemployed"),
        registered(P8, "370102", "unemployed"),
        person_event("placement.recorded", P5, "371302", t(days=-5),
                     placement="enterprise", started_on="2026-05-27"),
        person_event("placement.recorded", P2, "371311", t(days=-1),
                     placement="flexible", started_on="2026-05-31"),
        # r1: a flood response for city 371300, proposed at III and activated at II
        run_event("proposed", "r1", r1, t(), "system", playbook_id="flood_response",
                  level="III", area=r1, trigger_alert_id="a-1", disaster_id="d-1"),
        run_event("activated", "r1", r1, t(1 / 60), "chief", playbook_id="flood_response",
                  level="II"),
        run_event("step_assigned", "r1", r1, t(1 / 60), "system", step_id="s_enrol",
                  owner_role="county_bureau", assignee="wang", due_at=t(days=1)),
        run_event("step_assigned", "r1", r1, t(1 / 60), "system", step_id="s_subsidy",
                  owner_role="finance", due_at=t(3)),
        run_event("step_assigned", "r1", r1, t(1 / 60), "system", step_id="s_fair",
                  owner_role="market"),
        run_event("step_assigned", "r1", r1, t(1 / 60), "system", step_id="s_report",
                  owner_role="county_bureau", due_at=t(5)),
        # r4: a drill, active, one step
        run_event("proposed", "r4", r1, t(0.5), "system", playbook_id="flood_drill",
                  level="III", area=r1, drill=True),
        run_event("activated", "r4", r1, t(31 / 60), "system", playbook_id="flood_drill",
                  drill=True),
        run_event("step_assigned", "r4", r1, t(31 / 60), "system", step_id="s_drill",
                  owner_role="duty_office", due_at=t(days=1)),
        run_event("note_added", "r1", r1, t(0.5), "chief", note="team assembled"),
        # r10: Jinan, closed with a report (its id shares the prefix "r1")
        run_event("proposed", "r10", r10, t(1), "system", playbook_id="flood_response",
                  level="I", area=r10),
        run_event("activated", "r10", r10, t(1 + 5 / 60), "chief", playbook_id="flood_response"),
        person_event("subsidy.paid", P5, "371302", t(1), application_id="app-9",
                     subsidy="post", amount="300.00"),
        run_event("step_assigned", "r1", r1, t(2), "chief", step_id="s_enrol",
                  owner_role="county_bureau", assignee="li", due_at=t(days=2)),
        person_event("temporary_assistance.enrolled", P3, "370102", t(2), disaster_id="d-1",
                     playbook_run_id="r10", ends_on="2026-08-01"),
        # r3: proposed without an area (the region stands for it), then declined
        run_event("proposed", "r3", "371302", t(2), "system", playbook_id="flood_response",
                  level="IV"),
        run_event("declined", "r3", "371302", t(2.5), "chief", playbook_id="flood_response",
                  reason="covered by the county team"),
        person_event("temporary_assistance.enrolled", P1, "371302", t(3), disaster_id="d-1",
                     playbook_run_id="r1", starts_on="2026-06-01", ends_on="2026-07-01"),
        person_event("temporary_assistance.enrolled", P2, "371311", t(3), disaster_id="d-1",
                     playbook_run_id="r1", ends_on="2026-06-05"),
        person_event("temporary_assistance.enrolled", P6, "371311", t(3), disaster_id="d-1",
                     playbook_run_id="r1", ends_on="2026-06-02"),
        person_event("subsidy.paid", P3, "370102", t(3), application_id="r10:s_pay:1",
                     subsidy="temporary_assistance_one_time", amount="800.00"),
        # r5: only proposed
        run_event("proposed", "r5", "370102", t(3), "system", playbook_id="layoff_response",
                  level="IV", area="370102"),
        person_event("subsidy.paid", P1, "371302", t(4), application_id="r1:s_subsidy:1",
                     subsidy="temporary_assistance_one_time", amount="1500.00"),
        person_event("temporary_assistance.ended", P6, "371311", t(4), reason="found work"),
        run_event("step_completed", "r1", r1, t(5), "li", step_id="s_enrol", completed_by="li",
                  outcome="3 enrolled", note="done", counts={"people_enrolled": 3}),
        run_event("note_added", "r1", r1, t(5.5), "chief", note="waiting for funds",
                  step_id="s_subsidy"),
        run_event("step_overdue", "r1", r1, t(6), "system", step_id="s_fair", due_at=t(4)),
        person_event("temporary_assistance.enrolled", P6, "371311", t(6), disaster_id="d-1",
                     playbook_run_id="r1"),
        person_event("subsidy.paid", P2, "371311", t(6.5), application_id="r1:s_subsidy:2",
                     subsidy="temporary_assistance_one_time", amount="1500.50"),
        _event("welfare_post.opened", "371302", "r1:s_posts:1", t(7), post_id="r1:s_posts:1",
               title="river bank clean-up", slots=5),
        _event("welfare_post.opened", "371302", "r1:s_posts:2", t(7), post_id="r1:s_posts:2",
               title="sandbag depot", slots=3),
        run_event("step_completed", "r1", r1, t(7), "zhao", step_id="s_report"),
        _event("job_fair.scheduled", r1, "f-1", t(7), fair_id="f-1", title="flood-area fair",
               scheduled_for="2026-06-08", playbook_run_id="r1"),
        _event("job_fair.scheduled", r1, "f-2", t(7), fair_id="f-2", title="monthly fair",
               scheduled_for="2026-06-20"),
        person_event("placement.recorded", P1, "371302", t(8), placement="enterprise",
                     started_on="2026-06-02"),
        person_event("temporary_assistance.ended", P3, "370102", t(9), reason="moved away"),
        run_event("closed", "r10", r10, t(9), "chief", report={"people_enrolled": 1}),
    ]  # fmt: skip


def write(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """Write the rows as the projector does: batches of BATCH offsets, each with its token,
    last batch first, then every batch once more."""
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    for batch in [*reversed(batches), *batches]:
        first, last = batch[0][-1], batch[-1][-1]
        settings = {
            "insert_deduplication_token": f"events:0:{first}:{last}",
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        columns = list(zip(*batch, strict=True))
        store.insert_columns("events", columns, COLUMNS, settings)


@pytest.fixture(scope="module")
def rows() -> list[tuple[Any, ...]]:
    """The history as ``events`` rows, kafka offset = position in the log."""
    reference = load_reference("shandong")
    return [
        to_row(orjson.loads(e.to_json()), 0, offset, reference)
        for offset, e in enumerate(history())
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, ...]]) -> Iterator[Store]:
    """A migrated chDB store holding the history (one embedded engine per process at a
    time: closed at the end of the module)."""
    path: Path = tmp_path_factory.mktemp("playbook-chdb")
    store = Store(f"chdb://{path}")
    try:
        migrate(store)
        write(store, rows)
        yield store
    finally:
        store.close()


# -- runs --------------------------------------------------------------------------------


def test_list_runs_newest_first_with_derived_status(store: Store) -> None:
    runs = list_runs(store)
    assert [(r["run_id"], r["status"], r["drill"]) for r in runs] == [
        ("r5", "proposed", False),
        ("r3", "declined", False),
        ("r10", "closed", False),
        ("r4", "active", True),
        ("r1", "active", False),
    ]


def test_list_runs_filters(store: Store) -> None:
    assert [r["run_id"] for r in list_runs(store, status="active")] == ["r4", "r1"]
    assert [r["run_id"] for r in list_runs(store, status="declined")] == ["r3"]
    assert [r["run_id"] for r in list_runs(store, regions={"371300"})] == ["r3", "r4", "r1"]
    assert [r["run_id"] for r in list_runs(store, regions={"370102"})] == ["r5"]
    assert [r["run_id"] for r in list_runs(store, status="closed", regions={"370100"})] == ["r10"]
    with pytest.raises(ValueError, match="proposed, active, declined, closed"):
        list_runs(store, status="open")


def test_get_active_run(store: Store) -> None:
    assert get_run(store, "r1") == {
        "run_id": "r1",
        "playbook_id": "flood_response",
        "status": "active",
        "area": "371300",
        "city": "371300",
        "level": "II",
        "drill": False,
        "trigger_alert_id": "a-1",
        "disaster_id": "d-1",
        "proposed_at": T0,
        "activated_at": t(1 / 60),
        "activated_by": "chief",
        "declined_at": None,
        "declined_by": None,
        "decline_reason": None,
        "closed_at": None,
        "closed_by": None,
        "forced": False,
        "close_reason": None,
        "outcome": None,
        "report": None,
        "notes": 2,
        "events": 12,
        "last_event_at": t(7),
    }
    assert get_run(store, "nope") is None


def test_get_declined_closed_and_drill_runs(store: Store) -> None:
    r3 = get_run(store, "r3")
    assert r3 is not None
    assert (r3["status"], r3["area"], r3["city"], r3["level"]) == (
        "declined", "371302", "371300", "IV",
    )  # fmt: skip
    assert (r3["declined_at"], r3["declined_by"], r3["decline_reason"]) == (
        t(2.5), "chief", "covered by the county team",
    )  # fmt: skip
    assert r3["activated_at"] is None and r3["closed_at"] is None
    r10 = get_run(store, "r10")
    assert r10 is not None
    assert (r10["status"], r10["level"], r10["closed_at"], r10["closed_by"]) == (
        "closed", "I", t(9), "chief",
    )  # fmt: skip
    assert orjson.loads(r10["report"]) == {"people_enrolled": 1}
    assert r10["forced"] is False and r10["events"] == 3
    r4 = get_run(store, "r4")
    assert r4 is not None
    assert (r4["status"], r4["drill"], r4["level"], r4["activated_by"]) == (
        "active", True, "III", "system",
    )  # fmt: skip


def test_times_are_aware(store: Store) -> None:
    run = get_run(store, "r1")
    assert run is not None
    assert run["proposed_at"].utcoffset() == dt.timedelta(hours=8)
    assert run["activated_at"].utcoffset() == dt.timedelta(hours=8)


def test_active_runs_exclude_drills_declined_and_closed(store: Store) -> None:
    assert active_runs(store) == [ActiveRun("r1", "flood_response", "371300", "II")]


# -- steps -------------------------------------------------------------------------------


def test_run_steps(store: Store) -> None:
    steps = {s["step_id"]: s for s in run_steps(store, "r1", NOW)}
    assert list(steps) == ["s_enrol", "s_subsidy", "s_fair", "s_report"]
    enrol = steps["s_enrol"]
    # re-assigned (the re-assignment arrived in an earlier batch): the latest wins
    assert (enrol["owner_role"], enrol["assignee"], enrol["due_at"]) == (
        "county_bureau", "li", t(days=2),
    )  # fmt: skip
    assert (enrol["assignments"], enrol["assigned_at"]) == (2, t(2))
    assert (enrol["status"], enrol["overdue"], enrol["completed_at"]) == ("completed", False, t(5))
    assert (enrol["completed_by"], enrol["outcome"], enrol["note"]) == ("li", "3 enrolled", "done")
    assert enrol["counts"] == {"people_enrolled": 3}
    subsidy = steps["s_subsidy"]
    assert (subsidy["owner_role"], subsidy["assignee"], subsidy["due_at"]) == (
        "finance", None, t(3),
    )  # fmt: skip
    assert (subsidy["status"], subsidy["overdue"], subsidy["overdue_at"]) == (
        "assigned", True, None,
    )  # fmt: skip
    assert (subsidy["notes"], subsidy["completed_by"], subsidy["counts"]) == (1, None, {})
    fair = steps["s_fair"]
    # no deadline assigned: the overdue mark's missed deadline stands for it
    assert (fair["due_at"], fair["overdue_at"], fair["overdue"]) == (t(4), t(6), True)
    report = steps["s_report"]
    # completed late, by the actor (no completed_by in the payload): not overdue
    assert (report["status"], report["overdue"], report["completed_by"]) == (
        "completed", False, "zhao",
    )  # fmt: skip


def test_overdue_depends_on_now(store: Store) -> None:
    early = {s["step_id"]: s["overdue"] for s in run_steps(store, "r1", t(1))}
    assert early == {"s_enrol": False, "s_subsidy": False, "s_fair": True, "s_report": False}
    assert run_steps(store, "nope", NOW) == []


def test_board(store: Store) -> None:
    rows = board(store, NOW)
    summary = [
        (r["run_id"], r["level"], r["open_steps"], r["overdue_steps"], r["owners"]) for r in rows
    ]
    assert summary == [
        ("r1", "II", 2, 2, ["finance", "market"]),
        ("r4", "III", 1, 0, ["duty_office"]),
    ]
    assert [s["step_id"] for s in rows[0]["steps"]] == [
        "s_enrol",
        "s_subsidy",
        "s_fair",
        "s_report",
    ]
    assert rows[1]["drill"] is True


# -- outcomes ----------------------------------------------------------------------------


def test_run_timeline(store: Store) -> None:
    timeline = run_timeline(store, "r1")
    types = Counter(e["event_type"] for e in timeline)
    assert types == {
        "playbook.proposed": 1,
        "playbook.activated": 1,
        "playbook.step_assigned": 5,
        "playbook.step_completed": 2,
        "playbook.step_overdue": 1,
        "playbook.note_added": 2,
        "temporary_assistance.enrolled": 4,
        "subsidy.paid": 2,
        "welfare_post.opened": 2,
        "job_fair.scheduled": 1,
    }
    times = [e["occurred_at"] for e in timeline]
    assert times == sorted(times)
    assert timeline[0]["event_type"] == "playbook.proposed" and timeline[0]["actor"] == "system"
    assert set(timeline[0]) == {"event_type", "occurred_at", "actor", "payload"}
    paid = [orjson.loads(e["payload"]) for e in timeline if e["event_type"] == "subsidy.paid"]
    assert [p["application_id"] for p in paid] == ["r1:s_subsidy:1", "r1:s_subsidy:2"]


def test_run_timeline_limit_never_cuts_the_runs_own_events(store: Store) -> None:
    some = run_timeline(store, "r1", limit=13)
    assert len(some) == 13
    others = [e for e in some if not e["event_type"].startswith("playbook.")]
    assert [(e["event_type"], orjson.loads(e["payload"])["person_id"]) for e in others] == [
        ("temporary_assistance.enrolled", P1)
    ]
    few = run_timeline(store, "r1", limit=5)
    assert len(few) == 12 and all(e["event_type"].startswith("playbook.") for e in few)


def test_run_outcomes(store: Store) -> None:
    assert run_outcomes(store, "r1") == {
        "people_enrolled": 3,
        "still_enrolled": 3,
        "people_placed": 1,  # P1; P2 was placed before the enrolment
        "subsidies_paid": 2,
        "subsidy_amount": 3000.5,
        "welfare_posts": 8,
        "job_fairs": 1,
    }
    assert run_outcomes(store, "r10") == {
        "people_enrolled": 1,
        "still_enrolled": 0,
        "people_placed": 0,
        "subsidies_paid": 1,
        "subsidy_amount": 800.0,
        "welfare_posts": 0,
        "job_fairs": 0,
    }


# -- temporary assistance ----------------------------------------------------------------


def test_enrolment_by_region(store: Store) -> None:
    def row(level: str, region: str, city: str, now: int, total: int, ended: int) -> Any:
        return dict(level=level, region=region, city=city, enrolled_now=now,
                    enrolled_total=total, ended=ended)  # fmt: skip

    assert enrolment_by_region(store, dt.date(2026, 6, 10)) == [
        row("city", "370100", "370100", 0, 1, 1),
        row("county", "370102", "370100", 0, 1, 1),
        row("city", "371300", "371300", 2, 3, 0),
        row("county", "371302", "371300", 1, 1, 0),
        # P2 ran out on 06-05; P6 ended, then was enrolled again with no end date
        row("county", "371311", "371300", 1, 2, 0),
    ]
    early = enrolment_by_region(store, dt.date(2026, 6, 5))
    assert [(r["region"], r["enrolled_now"]) for r in early] == [
        ("370100", 0), ("370102", 0), ("371300", 3), ("371302", 1), ("371311", 2),
    ]  # fmt: skip


def test_enrolled_persons(store: Store) -> None:
    assert enrolled_persons(store, "r1") == [
        {"person_id": P1, "region": "371302", "city": "371300"},
        {"person_id": P2, "region": "371311", "city": "371300"},
        {"person_id": P6, "region": "371311", "city": "371300"},
    ]
    assert enrolled_persons(store, "r10") == []


def test_enrolment_candidates(store: Store) -> None:
    found = enrolment_candidates(store, ["371302", "371311"], "d-1", [str(FLAG)])
    # P3 cites the disaster, P4 the flag (both wherever they live); P7 is unemployed here.
    # P1, P2, P6 are enrolled or placed now, P5 placed, P8 lives elsewhere.
    assert found == [
        {"person_id": P3, "region": "370102"},
        {"person_id": P4, "region": "371302"},
        {"person_id": P7, "region": "371311"},
    ]
    assert enrolment_candidates(store, ["371300"], None, []) == [
        {"person_id": P7, "region": "371311"}
    ]
    assert enrolment_candidates(store, [], "d-1", []) == [{"person_id": P3, "region": "370102"}]
    assert enrolment_candidates(store, [], None, [str(FLAG).upper()]) == [
        {"person_id": P4, "region": "371302"}
    ]
    assert enrolment_candidates(store, [], None, []) == []


# -- idempotence -------------------------------------------------------------------------


def test_batches_written_twice_count_once(store: Store, rows: list[tuple[Any, ...]]) -> None:
    assert store.scalar("SELECT count() FROM events") == len(rows)
    before = (get_run(store, "r1"), run_outcomes(store, "r1"), run_steps(store, "r1", NOW))
    write(store, rows)
    assert store.scalar("SELECT count() FROM events") == len(rows)
    assert store.scalar("SELECT sum(events) FROM playbook_runs") == sum(
        1 for r in rows if r[1].startswith("playbook.")
    )
    assert store.scalar("SELECT sum(enrolments) FROM temporary_assistance") == 5
    assert store.scalar("SELECT sum(assignments) FROM playbook_steps") == 6
    after = (get_run(store, "r1"), run_outcomes(store, "r1"), run_steps(store, "r1", NOW))
    assert after == before


def test_migrate_again_is_a_no_op(store: Store) -> None:
    tables = store.rows("SHOW TABLES")
    assert migrate(store) == []
    assert store.rows("SHOW TABLES") == tables
    assert {"playbook_runs", "playbook_steps", "temporary_assistance"} <= {t[0] for t in tables}
    assert [r["run_id"] for r in list_runs(store)] == ["r5", "r3", "r10", "r4", "r1"]


def test_merged_parts_give_the_same_answers(store: Store) -> None:
    today = dt.date(2026, 6, 10)
    before = (list_runs(store), board(store, NOW), enrolment_by_region(store, today))
    keys = {"playbook_runs": 5, "playbook_steps": 5, "temporary_assistance": 4}
    for table, count in keys.items():
        store.command(f"OPTIMIZE TABLE {table} FINAL")
        assert store.scalar(f"SELECT count() FROM {table}") == count
    after = (list_runs(store), board(store, NOW), enrolment_by_region(store, today))
    assert after == before


def test_upgrading_a_store_backfills_from_its_events(store: Store) -> None:
    """Migration 0006 applied to a store that already holds the events (an upgrade) fills
    its tables from them, and applying it again after an interruption adds nothing. Last
    in the module: it rebuilds the tables in place (to the same answers)."""

    def answers() -> Any:
        return (
            list_runs(store),
            board(store, NOW),
            run_steps(store, "r1", NOW),
            run_outcomes(store, "r1"),
            enrolment_by_region(store, dt.date(2026, 6, 10)),
            enrolled_persons(store, "r1"),
            store.rows("SELECT sum(events), sum(notes) FROM playbook_runs"),
            store.rows("SELECT sum(assignments), sum(notes) FROM playbook_steps"),
            store.rows("SELECT sum(enrolments) FROM temporary_assistance"),
        )

    before = answers()
    for name in ("mv_playbook_runs", "mv_playbook_steps", "mv_temporary_assistance"):
        store.command(f"DROP TABLE {name} SYNC")
    for name in ("playbook_runs", "playbook_steps", "temporary_assistance"):
        store.command(f"DROP TABLE {name} SYNC")
    store.command("DELETE FROM schema_migrations WHERE version = 6")
    assert migrate(store) == [6]
    assert answers() == before
    store.command("DELETE FROM schema_migrations WHERE version = 6")
    assert migrate(store) == [6]
    assert answers() == before

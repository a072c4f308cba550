"""The worklist (migration 0010, projections.worklist) on the embedded engine: a case is
listed under its officer once written, follows a handover once the keeper is told of the
person (and only then: the keeper is what keeps it), is rebuilt whole at start and when
too many persons wait, and nothing told is lost when the store refuses."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections import case_queries as q
from projections import worklist
from projections.case_queries import Selection
from projections.client import Store
from projections.errors import ProjectionError
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row

DAY = dt.date(2026, 7, 20)
LANSHAN, LINYI = "371302", "371300"
P1, P2 = "p_" + "1" * 32, "p_" + "2" * 32


def _e(kind: str, key: str, days: int, hour: int = 9, **payload: Any) -> Envelope:
    at = dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time(hour), tzinfo=SHANGHAI)
    return internal_event(kind, region=LANSHAN, aggregate_id=key, actor="officer-li",
                          source="eams.cases", payload={"person_id": key} | payload,
                          occurred_at=at)  # fmt: skip


def _registered(key: str, days: int) -> list[Envelope]:
    return [
        _e("person.registered", key, days, 8, target_group="employment_difficulty",
           employment_status="unemployed", registered_on=(DAY + dt.timedelta(days)).isoformat()),
        _e("case.assigned", key, days, office=LANSHAN, officer="li"),
    ]  # fmt: skip


class _Log:
    """Events written to ``events`` as the projector writes them, offsets in order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.offset = 0
        self.reference = load_reference("shandong")

    def write(self, *events: Envelope) -> None:
        rows = []
        for e in events:
            rows.append(to_row(orjson.loads(e.to_json()), 0, self.offset, self.reference))
            self.offset += 1
        self.store.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"chdb://{tmp_path / 'ch'}")
    try:
        migrate(s)
        yield s
    finally:
        s.close()


def _officer(store: Store, who: str) -> list[str]:
    return [c["person_id"] for c in q.caseload(store, Selection(officer=who))]


def test_a_handover_moves_the_case_once_the_keeper_is_told(store: Store) -> None:
    log = _Log(store)
    log.write(*_registered(P1, -10), *_registered(P2, -9))
    keeper = worklist.WorklistKeeper(store)
    assert _officer(store, "li") == []  # nothing written yet: the worklist is the keeper's
    assert asyncio.run(keeper.step()) and keeper.rebuilt  # the first step rebuilds whole
    assert _officer(store, "li") == [P1, P2]
    log.write(_e("case.handed_over", P1, -1, from_office=LANSHAN, from_officer="li",
                 office=LANSHAN, officer="wang", reason="片区调整"))  # fmt: skip
    assert _officer(store, "li") == [P1, P2] and _officer(store, "wang") == []  # not told yet
    keeper.touch([P1])
    assert keeper.status()["pending"] == 1
    assert asyncio.run(keeper.step())
    assert keeper.status()["pending"] == 0 and keeper.refreshed == 1
    assert _officer(store, "li") == [P2]  # the row under li now holds wang: left out
    [moved] = q.caseload(store, Selection(officer="wang"))
    assert (moved["person_id"], moved["officer"], moved["office"]) == (P1, "wang", LANSHAN)
    # every case of the county, once each (listed under the region and the city keys)
    assert [c["person_id"] for c in q.caseload(store, Selection(regions=frozenset(
        {LANSHAN, LINYI})))] == [P1, P2]  # fmt: skip
    assert not asyncio.run(keeper.step())  # nothing waits
    # a page of a list, in person order: from the worklist, and from the ledger for all
    assert [c["person_id"] for c in q.caseload(store, Selection(office=LANSHAN),
                                               page=q.Page(1, 1))] == [P2]  # fmt: skip
    assert [c["person_id"] for c in q.caseload(store, Selection(), page=q.Page(1))] == [P1]
    assert q.caseload(store, Selection(officer="wang"), page=q.Page(5, 1)) == []
    # an offset without a limit: the rest of the list (the fuzzer's 500 on the worklist path)
    assert [c["person_id"] for c in q.caseload(store, Selection(office=LANSHAN),
                                               page=q.Page(None, 1))] == [P2]  # fmt: skip
    assert [c["person_id"] for c in q.caseload(store, Selection(), page=q.Page(None, 1))] == [P2]
    assert q.caseload(store, Selection(office=LANSHAN), page=q.Page(None, 2_368_211)) == []


def test_the_worklist_holds_what_the_ledger_says(store: Store) -> None:
    log = _Log(store)
    log.write(*_registered(P1, -30))
    log.write(
        _e("person.recognized", P1, -29, target_group="employment_difficulty",
           rule_set="371300@1", rule_id="ed.long_term_unemployed"),
        _e("visit.scheduled", P1, -29, 10, due_on=(DAY - dt.timedelta(days=2)).isoformat(),
           interval_days=27, basis="employment_difficulty"),
    )  # fmt: skip
    worklist.rebuild(store, 1)
    [listed] = q.caseload(store, Selection(officer="li"))
    [everyone] = q.caseload(store, Selection())  # read from the ledger itself
    assert listed == everyone
    assert listed["groups"] == ["employment_difficulty"] and listed["status"] == "recognised"
    assert [v["person_id"] for v in q.visits_due(store, Selection(officer="li"), DAY)] == [P1]
    # exited: out of the open list once refreshed, in the list with the exited ones
    log.write(_e("person.exited", P1, -1, reason="employed", exited_on=(DAY - dt.timedelta(
        days=1)).isoformat()))  # fmt: skip
    worklist.refresh(store, [P1], 2)
    assert q.caseload(store, Selection(officer="li")) == []
    [gone] = q.caseload(store, Selection(officer="li"), include_exited=True)
    assert gone["status"] == "exited" and gone["exit_reason"] == "employed"


def test_many_waiting_persons_rebuild_whole_and_a_refusal_loses_nothing(store: Store) -> None:
    log = _Log(store)
    log.write(*_registered(P1, -5))
    keeper = worklist.WorklistKeeper(store, rest=0)
    asyncio.run(keeper.step())
    keeper.FULL_AT = 1
    log.write(*_registered(P2, -4))
    keeper.touch([P1, P2])
    asyncio.run(keeper.step())
    assert keeper.rebuilds == 2 and keeper.refreshed == 0 and keeper.status()["pending"] == 0
    assert _officer(store, "li") == [P1, P2]

    keeper.FULL_AT = 100
    store.command("RENAME TABLE case_worklist TO case_worklist_away")
    keeper.touch([P2])
    with pytest.raises(ProjectionError):
        asyncio.run(keeper.step())
    assert keeper.pending == {P2}  # put back, written on the next step
    store.command("RENAME TABLE case_worklist_away TO case_worklist")
    assert asyncio.run(keeper.step()) and keeper.pending == set()


def test_a_whole_pass_rests_before_the_next_and_loses_nothing_meanwhile(store: Store) -> None:
    log = _Log(store)
    log.write(*_registered(P1, -5))
    now = [100.0]
    durations = iter([2.0])  # the first pass takes 2 s on this clock

    def clock() -> float:
        return now[0]

    keeper = worklist.WorklistKeeper(store, rest=3.0, clock=clock)
    real_rebuild = worklist.rebuild

    def timed(store: Store, version: int) -> None:
        real_rebuild(store, version)
        now[0] += next(durations, 0.0)

    worklist.rebuild = timed  # type: ignore[assignment]
    try:
        asyncio.run(keeper.step())  # the first pass: 100 -> 102, rest until 108
        keeper.FULL_AT = 1
        log.write(*_registered(P2, -4))
        keeper.touch([P1, P2])
        now[0] = 107.9
        assert asyncio.run(keeper.step()) is False  # still resting: nothing written
        assert keeper.rebuilds == 1 and keeper.pending == {P1, P2}
        assert _officer(store, "li") == [P1]
        now[0] = 108.0
        assert asyncio.run(keeper.step()) is True
        assert keeper.rebuilds == 2 and keeper.pending == set()
        assert _officer(store, "li") == [P1, P2]
    finally:
        worklist.rebuild = real_rebuild  # type: ignore[assignment]

"""Zero-employment households cleared dynamically, on a real worker (real broker, real
embedded ClickHouse), with nothing but the persons' own events going in through ingest:

- two members of household hh-1 registered in 兰山区 (an office's ledger): casework tells
  the household, the household identifies itself as zero-employment with a deadline, the
  members' cases record the fact and are recognised by the zero-employment rule, and the
  county's count of open households is 1;
- one of them takes up work: the household is cleared on time, the county count follows;
- household hh-2, identified 40 days ago, is past its deadline: the calendar escalates it
  to the county, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fixtures import SECRET, read_log
from helpers import encode, event, produce, wait_for

from events.clock import SHANGHAI, today
from events.identity import make_national_id
from events.privacy import pseudonym

pytestmark = pytest.mark.integration
LANSHAN = "371302"
# young enough that no rule but the zero-employment household recognises them
NIDS = [make_national_id(LANSHAN, dt.date(1990 + 2 * i, 3, 8), 21 + i) for i in range(3)]
A, B, C = (pseudonym(n, SECRET.encode()) for n in NIDS)
DAY = today()


def _at(days: int) -> dt.datetime:
    """09:00 of the day ``days`` from today, or now if that is later than now: before 09:00
    in Shanghai an event of today at 09:00 lies in the future and ingest refuses it (the
    placement was dead-lettered whenever CI ran between 16:00 and 01:00 UTC)."""
    nine = dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time(9), tzinfo=SHANGHAI)
    return min(nine, dt.datetime.now(SHANGHAI))


def _member(nid: str, household: str, days: int, gender: str) -> list[dict[str, Any]]:
    born = dt.date(int(nid[6:10]), int(nid[10:12]), int(nid[12:14]))
    registered = {
        "national_id": nid,
        "target_group": "employment_difficulty",
        "employment_status": "unemployed",
        "household_id": household,
        "gender": gender,
    }
    facts = {
        "national_id": nid,
        "facts": {"birth_date": born.isoformat(), "able_to_work": True, "employed": False},
        "observed_on": (DAY + dt.timedelta(days=days)).isoformat(),
        "source": "ledger",
    }
    return [
        event("person.registered", LANSHAN, registered, at=_at(days)),
        event("person.facts_recorded", LANSHAN, facts, at=_at(days)),
    ]


def _of(worker: Any, kind: str, aggregate: str) -> list[dict[str, Any]]:
    return [e for e in read_log(worker, kind) if e["aggregate_id"] == aggregate]


def _county(worker: Any) -> dict[str, Any]:
    got = worker.api.get("/api/households/zero-employment").raise_for_status().json()
    return next((c for c in got["counties"] if c["region"] == LANSHAN), {})


def test_a_household_from_identified_to_cleared_with_its_county_count(worker_factory: Any) -> None:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5")
    produce(
        worker.kafka("raw"),
        worker.settings.topics.ingest_raw,
        encode(_member(NIDS[0], "hh-1", -5, "male") + _member(NIDS[1], "hh-1", -5, "female")),
    )
    identified = wait_for(
        lambda: _of(worker, "household.zero_employment_identified", "hh-1"), "hh-1 identified"
    )
    assert len(identified) == 1, identified
    payload = identified[0]["payload"]
    assert payload["members_of_working_age"] in (1, 2)  # the second member may come after
    assert (
        payload["deadline"]
        == (dt.date.fromisoformat(payload["identified_on"]) + dt.timedelta(days=30)).isoformat()
    )
    # both members' cases learn it and are recognised by the zero-employment rule, after a
    # refusal at registration that named what was missing
    for person in (A, B):
        refused = wait_for(lambda p=person: _of(worker, "person.recognition_refused", p), "refused")
        assert "ed.zero_employment_household:zero_employment_household" in {
            f"{c['rule']}:{c['condition']}" for c in refused[0]["payload"]["failed"]
        }
        recognised = wait_for(
            lambda p=person: _of(worker, "person.recognized", p), f"{person} recognised"
        )
        assert recognised[0]["payload"]["rule_id"] == "ed.zero_employment_household"
        flags = [
            e
            for e in _of(worker, "person.facts_recorded", person)
            if e["payload"]["source"] == "household"
        ]
        assert flags[0]["payload"]["facts"] == {"zero_employment_household": True}
    wait_for(lambda: _county(worker).get("open") == 1, "the county counts one open household")

    # one member takes up work: cleared on time, and the county count follows
    placement = {"national_id": NIDS[0], "placement": "enterprise", "started_on": DAY.isoformat()}
    produce(
        worker.kafka("raw"),
        worker.settings.topics.ingest_raw,
        encode([event("placement.recorded", LANSHAN, placement, at=_at(0))]),
    )
    cleared = wait_for(
        lambda: _of(worker, "household.zero_employment_cleared", "hh-1"), "hh-1 cleared"
    )
    assert cleared[0]["payload"]["on_time"] is True
    county = wait_for(
        lambda: (c := _county(worker)).get("cleared") == 1 and c, "the county counts it cleared"
    )
    assert (county["open"], county["cleared_on_time"], county["identified"]) == (0, 1, 1)
    # the other member's case hears the household is no longer zero-employment
    wait_for(
        lambda: any(
            e["payload"]["facts"] == {"zero_employment_household": False}
            for e in _of(worker, "person.facts_recorded", B)
        ),
        "B told the household was cleared",
    )


def test_a_household_past_its_deadline_is_escalated_to_the_county_once(worker_factory: Any) -> None:
    worker = worker_factory(EAMS_CASEWORK="true", EAMS_CASEWORK_INTERVAL="0.5")
    produce(
        worker.kafka("raw"),
        worker.settings.topics.ingest_raw,
        encode(_member(NIDS[2], "hh-2", -40, "female")),
    )
    overdue = wait_for(lambda: _of(worker, "household.clearing_overdue", "hh-2"), "escalated")
    assert overdue[0]["payload"]["escalated_to"] == LANSHAN
    identified = _of(worker, "household.zero_employment_identified", "hh-2")
    assert identified[0]["payload"]["identified_on"] == (DAY - dt.timedelta(days=40)).isoformat()
    ticks = worker.status()["alerting"]["casework"]["ticks"]
    wait_for(lambda: worker.status()["alerting"]["casework"]["ticks"] >= ticks + 3, "3 more ticks")
    assert len(_of(worker, "household.clearing_overdue", "hh-2")) == 1  # once per deadline
    county = wait_for(lambda: (c := _county(worker)).get("escalated") == 1 and c, "counted")
    assert county["overdue"] == 1

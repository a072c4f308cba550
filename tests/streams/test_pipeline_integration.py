"""End to end on the real broker and chDB: exact counts, dead letters, duplicates, order."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from typing import Any

import orjson
import pytest
from fixtures import Worker
from helpers import T0, assert_counts, encode, expected, produce, scenario_events

from events.identity import make_national_id
from streams.dlq import DeadLetter, read_dead_letters

pytestmark = pytest.mark.integration

GOOD_ID = make_national_id("370102", dt.date(1988, 5, 17), 42)
BAD_ID = GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")


def dead_letters(worker: Worker) -> list[DeadLetter]:
    """The worker's dead letters, opened with its DLQ key."""
    key = worker.settings.existing_dead_letter_key()
    return asyncio.run(read_dead_letters(worker.kafka("stream"), worker.settings.topics.dlq, key))


def _event(event_type: str, payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
    at = kw.pop("at", T0).isoformat()
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": kw.pop("schema_version", 1),
        "occurred_at": at,
        "recorded_at": at,
        "region": kw.pop("region", "370102"),
        "source": "test",
        "actor": "tester",
        "payload": payload,
        **kw,
    }


def malformed() -> list[tuple[bytes, str]]:
    """Bad inputs and the field each rejection must name."""
    reg = {"national_id": GOOD_ID, "target_group": "employment_difficulty",
           "employment_status": "unemployed"}  # fmt: skip
    naive = _event("person.registered", reg)
    naive["occurred_at"] = "2026-06-01T08:00:00"
    return [
        (b'{"event_id": "oops", ', "(body)"),
        (orjson.dumps(_event("person.regstered", reg)), "event_type"),
        (orjson.dumps(_event("person.registered", {**reg, "national_id": BAD_ID})),
         "payload.national_id"),
        (orjson.dumps(_event("person.registered", reg, region="379999")), "region"),
        (orjson.dumps(_event("person.registered", {**reg, "shoe_size": 42})), "payload.shoe_size"),
        (orjson.dumps(naive), "occurred_at"),
        (orjson.dumps(_event("layoff.reported", {"enterprise_name": "X", "headcount_before": 10,
                                                 "laid_off": 11}, schema_version=2)),
         "payload.laid_off"),
    ]  # fmt: skip


def test_exact_counts_with_malformed_duplicate_and_out_of_order_input(worker: Worker) -> None:
    events = scenario_events(600, seed=3)
    raws = encode(events)
    rng = random.Random(5)
    shuffled = raws[:]
    rng.shuffle(shuffled)  # arrival order differs from occurred_at order
    duplicates = rng.sample(raws, 40)  # the same bytes sent again
    bad = malformed()
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw,
            shuffled[:300] + [b for b, _ in bad] + duplicates + shuffled[300:])  # fmt: skip

    counts = worker.wait_settled()
    assert_counts(counts, expected(events))
    status = worker.status()
    assert status["ingest"]["duplicates"] == 40
    assert status["ingest"]["rejected"] == len(bad)

    letters = dead_letters(worker)
    assert sorted((d.raw, d.field) for d in letters) == sorted(bad)
    for d in letters:
        assert d.field in d.reason and d.source == "test" and d.rejected_at


def test_late_events_do_not_overwrite_newer_state(worker: Worker) -> None:
    nid = GOOD_ID
    registered = _event("person.registered", {"national_id": nid, "target_group":
                        "rural_surplus_labour", "employment_status": "unemployed"})  # fmt: skip
    placed = _event("placement.recorded", {"national_id": nid, "placement": "enterprise",
                    "started_on": "2026-06-03"}, at=T0 + dt.timedelta(days=2))  # fmt: skip
    late_service = _event("service.delivered", {"national_id": nid, "service": "counselling"},
                          at=T0 + dt.timedelta(days=1))  # fmt: skip
    # A zero-employment household cleared on day 3, identified on day 1: the clear arrives
    # first; another household is identified and stays open.
    cleared = _event("household.zero_employment_cleared", {"household_id": "hh-1"},
                     at=T0 + dt.timedelta(days=3))  # fmt: skip
    found = _event("household.zero_employment_identified",
                   {"household_id": "hh-1", "members_of_working_age": 2})  # fmt: skip
    other = _event("household.zero_employment_identified",
                   {"household_id": "hh-2", "members_of_working_age": 3})  # fmt: skip
    # Arrival order: the newest first, the registration last.
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw,
            encode([placed, late_service, cleared, registered, found, other]))  # fmt: skip
    counts = worker.wait_settled()
    assert counts["events"] == 6
    assert counts["persons"] == {"persons": 1, "with_group": 1, "exited": 0}
    assert counts["households"] == {"households": 2, "zero_employment_open": 1}
    rows = worker.api.get("/api/overview/cities").json()
    jinan = next(r for r in rows if r["code"] == "370100")
    assert jinan["persons"] == 1 and jinan["placements"] == 1 and jinan["registrations"] == 1


def test_http_ingest_answers_per_line_and_produces_only_what_it_accepts(worker: Worker) -> None:
    good = _event("person.registered", {"national_id": GOOD_ID, "target_group":
                  "low_income_graduate", "employment_status": "job_seeking_graduate"})  # fmt: skip
    bad = _event("person.registered", {"national_id": BAD_ID, "target_group":
                 "low_income_graduate", "employment_status": "job_seeking_graduate"})  # fmt: skip

    one = worker.api.post("/api/ingest", json=good)
    assert one.status_code == 200 and one.json()["accepted"] == 1

    body = orjson.dumps(good) + b"\n" + orjson.dumps(bad) + b"\n\nnot json\n"
    batch = worker.api.post(
        "/api/ingest", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert batch.status_code == 207
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert [r["line"] for r in results] == [1, 2, 4]
    assert results[1]["field"] == "payload.national_id"
    assert results[2]["field"] == "(body)"

    wrong = worker.api.post("/api/ingest", content=b"x", headers={"content-type": "text/csv"})
    assert wrong.status_code == 415 and "application/x-ndjson" in wrong.json()["detail"]

    counts = worker.wait_settled()
    assert counts["events"] == 1  # the resent good event was deduplicated
    # The rejected lines were answered, not produced: the stream saw the good event twice
    # and nothing else, so nothing was dead-lettered. (Its counters reach the API twice a
    # second, so wait until they account for both inputs.)
    deadline = time.monotonic() + 30
    ingest = worker.status()["ingest"]
    while ingest["accepted"] + ingest["duplicates"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        ingest = worker.status()["ingest"]
    assert (ingest["accepted"], ingest["duplicates"], ingest["rejected"]) == (1, 1, 0)
    assert dead_letters(worker) == []


def test_dlq_replay_of_a_corrected_event_counts_once(worker: Worker) -> None:
    payload = {"national_id": BAD_ID, "target_group": "employment_difficulty",
               "employment_status": "unemployed"}  # fmt: skip
    bad = _event("person.registered", payload)
    topics = worker.settings.topics
    produce(worker.kafka("raw"), topics.ingest_raw, encode([bad]))
    worker.wait_settled()
    [letter] = dead_letters(worker)
    assert letter.field == "payload.national_id" and letter.raw is not None

    fixed = orjson.loads(letter.raw)
    fixed["payload"]["national_id"] = GOOD_ID
    for purged in (1, 0):  # replaying twice must not count twice
        answer = (
            worker.api.post(
                "/api/dlq/replay", json={"events": [orjson.dumps(fixed).decode()], "actor": "ops"}
            )
            .raise_for_status()
            .json()
        )
        assert answer["submitted"] == 1 and answer["purged"] == purged
    counts = worker.wait_settled()
    assert counts["events"] == 1 and counts["persons"]["persons"] == 1
    assert dead_letters(worker) == []  # purged after the successful replay


def test_v1_layoff_is_upcast_on_the_way_in(worker: Worker) -> None:
    v1 = _event("layoff.reported", {"company": "临沂某纺织厂", "count": 260,
                "headcount_before": 800}, region="371302")  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([v1]))
    counts = worker.wait_settled()
    assert counts["facts"]["people_laid_off"] == 260
    assert counts["events_by_type"] == {"layoff.reported": 1}


def test_statistical_zone_is_accepted_and_flagged(worker: Worker) -> None:
    zone = _event("layoff.reported", {"enterprise_name": "高新区某电子厂", "laid_off": 30},
                  region="370176", schema_version=2)  # fmt: skip
    county = _event("layoff.reported", {"enterprise_name": "历下区某商场", "laid_off": 12},
                    region="370102", schema_version=2)  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([zone, county]))
    counts = worker.wait_settled()
    assert counts["events"] == 2
    assert counts["events_in_statistical_zones"] == 1
    jinan = next(r for r in worker.api.get("/api/overview/cities").json() if r["code"] == "370100")
    assert jinan["people_laid_off"] == 42  # a zone's figures roll up to its city


def test_a_clear_that_arrives_before_its_flag_still_clears(worker: Worker) -> None:
    flagged = _event("disaster_area.flagged", {"disaster_id": "late", "kind": "epidemic",
                     "severity": "III", "regions": ["371302", "371311"], "title": "疫情",
                     "period_start": "2026-06-01"})  # fmt: skip
    cleared = _event("disaster_area.cleared", {"disaster_id": "late", "period_end": "2026-06-05"},
                     at=T0 + dt.timedelta(days=4))  # fmt: skip
    other = _event("disaster_area.flagged", {"disaster_id": "still", "kind": "epidemic",
                   "severity": "IV", "regions": ["370102"], "title": "疫情",
                   "period_start": "2026-06-02"}, at=T0 + dt.timedelta(days=1))  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([cleared]))
    worker.wait_settled()
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([flagged, other]))
    counts = worker.wait_settled()
    assert counts["active_disaster_areas"] == 1
    areas = worker.api.get("/api/disaster-areas").json()
    assert [(a["region"], a["disaster_id"]) for a in areas] == [("370102", "still")]

"""No poison pill: an event the store cannot hold is parked while the worker keeps projecting,
survives restarts as one entry, and is projected exactly once by a retry after a fix; the
write-ahead replay path is proven by crashing between the write-ahead row and the insert.

All on the real broker and a real ``eams run`` with its embedded ClickHouse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from fixtures import Worker
from helpers import assert_counts, encode, event, expected, produce, scenario_events

from events.clock import SHANGHAI
from projections.client import Store

pytestmark = pytest.mark.integration

POISON = 5_000_000_000  # the issue's value: more than the UInt32 column holds


def _layoff_doc(laid_off: int) -> dict[str, Any]:
    """A layoff as the ingest stream writes it to the log (already validated and keyed)."""
    now = dt.datetime.now(SHANGHAI).isoformat()
    return {
        "event_id": str(uuid.uuid4()), "event_type": "layoff.reported", "schema_version": 2,
        "occurred_at": now, "recorded_at": now, "region": "371302",
        "aggregate_id": "91371302MA3C8X2K1T", "source": "legacy", "actor": "importer",
        "payload": {"enterprise_name": "临沂某机械厂", "laid_off": laid_off},
    }  # fmt: skip


def append_to_log(worker: Worker, values: list[bytes], key: bytes) -> None:
    """Write records straight to the worker's event log (as an older release or another
    writer of the log could have), all on one partition, in order."""

    async def go() -> None:
        producer = AIOKafkaProducer(
            **worker.kafka("stream").client_options(), enable_idempotence=True
        )
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(worker.settings.topics.events, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def cli(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``eams`` CLI against the worker, as an operator on its machine would."""
    return subprocess.run(
        [sys.executable, "-m", "eams.cli", *args],
        env=worker.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_poison_is_quarantined_and_retried_exactly_once_after_a_fix(worker_factory: Any) -> None:
    first = worker_factory()
    baseline = scenario_events(300, seed=5)
    produce(first.kafka("raw"), first.settings.topics.ingest_raw, encode(baseline))
    first.wait_settled()

    poison, good = _layoff_doc(POISON), _layoff_doc(7)
    append_to_log(first, [orjson.dumps(poison), b"\xff\xfe not an event", orjson.dumps(good)], b"k")
    counts = first.wait_settled()

    # the worker kept going: the good layoff after the poison is projected
    assert first.proc is not None and first.proc.poll() is None
    want = expected(baseline)
    assert counts["events"] == want["events"] + 1
    assert counts["facts"]["people_laid_off"] == want["people_laid_off"] + 7
    status = first.status()
    assert status["quarantine"] == {"parked": 2}
    assert status["projector"]["quarantined"] == 2
    listing = first.api.get("/api/quarantine").raise_for_status().json()
    by_field = {e["field"]: e for e in listing["entries"]}
    assert set(by_field) == {"payload.laid_off", "(body)"}
    assert by_field["payload.laid_off"]["event_id"] == poison["event_id"]
    assert "4,294,967,295" in by_field["payload.laid_off"]["error"]
    shown = cli(first, "quarantine", "list", "--json")
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == 2

    # a SIGKILL and a restart replay the range: still two entries, nothing counted twice
    first.kill()
    second = worker_factory(like=first)
    assert second.wait_settled() == counts
    assert second.status()["quarantine"] == {"parked": 2}

    # the fix: a migration widens the column (applied here by hand while the worker is down)
    second.stop()
    store = Store(second.settings.clickhouse_dsn)
    store.command(
        "ALTER TABLE events MODIFY COLUMN laid_off UInt64", settings={"mutations_sync": 2}
    )
    store.close()
    third = worker_factory(like=first)
    retried = cli(third, "quarantine", "retry", "--actor", "ops-zhang")
    assert retried.returncode == 1, retried.stderr  # one entry (not JSON) stays parked
    assert "1 projected, 1 still parked" in retried.stdout
    after = third.wait_settled()
    assert after["events"] == want["events"] + 2
    assert after["facts"]["people_laid_off"] == want["people_laid_off"] + 7 + POISON
    entries = third.api.get("/api/quarantine", params={"status": ""}).json()["entries"]
    states = {e["field"]: (e["status"], e["attempts"], e["updated_by"]) for e in entries}
    assert states == {
        "payload.laid_off": ("projected", 1, "ops-zhang"),
        "(body)": ("parked", 1, "ops-zhang"),
    }

    # a second retry (or one after a crash) writes nothing twice
    again = third.api.post("/api/quarantine/retry", json={"refs": []}).raise_for_status().json()
    assert again["projected"] == [] and len(again["parked"]) == 1
    forced = third.api.post(
        "/api/quarantine/retry", json={"refs": [by_field["payload.laid_off"]["ref"]]}
    ).json()
    assert forced == {"projected": [], "parked": []}  # already projected: not parked any more
    assert third.wait_settled() == after


def test_crash_between_write_ahead_row_and_insert_is_replayed(worker_factory: Any) -> None:
    first = worker_factory(EAMS_TEST_CRASH_AFTER_WAL="1")
    events = scenario_events(2_000, seed=17)
    produce(first.kafka("raw"), first.settings.topics.ingest_raw, encode(events))
    assert first.proc is not None
    first.proc.wait(timeout=120)
    assert first.proc.returncode == 70, first.tail()  # the hook fired: WAL row, no insert
    second = worker_factory(like=first, EAMS_TEST_CRASH_AFTER_WAL="0")
    counts = second.wait_settled()
    assert second.status()["projector"]["replayed_batches"] > 0
    assert_counts(counts, expected(events))


def test_the_api_refuses_the_issues_poison_and_the_log_never_sees_it(worker: Worker) -> None:
    poison = event("layoff.reported", "371302", {"enterprise_name": "某厂", "laid_off": POISON})
    answer = worker.api.post("/api/ingest", json=poison)
    assert answer.status_code == 422
    [line] = answer.json()["results"]
    assert line["field"] == "payload.laid_off"
    good = event("layoff.reported", "371302", {"enterprise_name": "某厂", "laid_off": 3})
    assert worker.api.post("/api/ingest", json=good).status_code == 200
    deadline = time.monotonic() + 60
    while worker.counts()["events"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    counts = worker.wait_settled()
    assert counts["events"] == 1
    assert counts["facts"]["people_laid_off"] == 3
    assert worker.status()["quarantine"] == {}

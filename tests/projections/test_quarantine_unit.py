"""The quarantine on a real embedded ClickHouse: bisecting refused batches, parking entries,
and surviving a rebuild's drop."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from events.clock import SHANGHAI
from projections import quarantine
from projections.client import Store
from projections.migrations import drop_all, migrate
from projections.rows import COLUMNS

SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("quarantine-chdb")
    s = Store(f"chdb://{path}")
    migrate(s)
    yield s
    s.close()


def row(
    offset: int, *, laid_off: int = 10, year: int = 2026, partition: int = 0
) -> tuple[Any, ...]:
    """An ``events`` row as ``to_row`` builds it (built here to bypass its checks)."""
    at = dt.datetime(year, 6, 1, 8, tzinfo=SHANGHAI)
    values = {
        "event_id": uuid.uuid4(), "event_type": "layoff.reported", "schema_version": 2,
        "occurred_at": at, "recorded_at": at, "region": "371302",
        "region_is_statistical_zone": 0, "city": "371300", "aggregate_id": "e", "source": "t",
        "actor": "a", "correlation_id": "", "causation_id": "", "person_id": "",
        "household_id": "", "target_group": "", "status": "", "enterprise": "e",
        "laid_off": laid_off, "headcount_before": 0, "disaster_id": "", "disaster_kind": "",
        "severity": "", "disaster_regions": [], "disaster_cities": [], "amount": 0.0,
        "payload": "{}", "kafka_partition": partition, "kafka_offset": offset,
    }  # fmt: skip
    return tuple(values[c] for c in COLUMNS)


def count(store: Store, partition: int) -> int:
    return int(store.scalar("SELECT count() FROM events WHERE kafka_partition = {p:UInt16}",
                            {"p": partition}))  # fmt: skip


def test_bisect_isolates_exactly_the_rows_refused_on_their_own(store: Store) -> None:
    rows = [row(i, partition=1) for i in range(16)]
    rows[5] = row(5, laid_off=5_000_000_000, partition=1)  # cannot be held by UInt32
    rows[12] = row(12, laid_off=-3, partition=1)
    refused = quarantine.insert_isolating(store, "events", rows, COLUMNS, "t:1:0:15", SETTINGS)
    assert sorted(r[-1] for r, _ in refused) == [5, 12]
    assert all("laid_off" in str(exc) for _, exc in refused)
    assert count(store, 1) == 14
    # a replay of the same batch (after a crash mid-bisect) meets the same halves and tokens
    again = quarantine.insert_isolating(store, "events", rows, COLUMNS, "t:1:0:15", SETTINGS)
    assert sorted(r[-1] for r, _ in again) == [5, 12]
    assert count(store, 1) == 14


def test_a_block_refused_whole_is_split_until_it_fits(store: Store) -> None:
    # 110 years in one block: ClickHouse refuses more than 100 partitions per insert. No row
    # is at fault, so bisecting writes them all and parks none.
    rows = [row(i, year=1900 + i, partition=2) for i in range(110)]
    refused = quarantine.insert_isolating(store, "events", rows, COLUMNS, "t:2:0:109", SETTINGS)
    assert refused == []
    assert count(store, 2) == 110


def test_park_list_count_and_rewrite(store: Store) -> None:
    doc = b'{"event_id": "x", "event_type": "layoff.reported", "region": "371302"}'
    a = quarantine.parked_record("ns.events", 0, 41, doc, "payload.laid_off", "too large")
    b = quarantine.parked_record("ns.events", 1, 7, b"\xff not json", "(body)", "not JSON")
    quarantine.park(store, [a, b])
    quarantine.park(store, [a])  # a replay parks the same position again: still one entry
    found = quarantine.entries(store)
    assert [(e.ref, e.event_type, e.field) for e in found] == [
        ("0:41", "layoff.reported", "payload.laid_off"),
        ("1:7", "", "(body)"),
    ]
    assert found[1].value == b"\xff not json"
    assert quarantine.counts(store) == {"parked": 2}
    from dataclasses import replace

    quarantine.park(store, [replace(found[0], status=quarantine.PROJECTED, attempts=1)], by="ops")
    assert quarantine.counts(store) == {"parked": 1, "projected": 1}
    [done] = quarantine.entries(store, status=quarantine.PROJECTED)
    assert (done.ref, done.attempts, done.updated_by) == ("0:41", 1, "ops")
    assert [e.ref for e in quarantine.entries(store, status=None, refs=["1:7"])] == ["1:7"]
    with pytest.raises(ValueError, match="PARTITION:OFFSET"):
        quarantine.entries(store, refs=["seven"])


def test_a_rebuild_keeps_the_quarantine(store: Store) -> None:
    before = quarantine.counts(store)
    assert before
    drop_all(store)
    migrate(store)
    assert quarantine.counts(store) == before
    assert count(store, 1) == 0  # the projections themselves were dropped

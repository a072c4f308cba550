"""Exactly-once effect of the projections: SIGKILL mid-stream, restart, compare every count."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fixtures import Worker
from helpers import assert_counts, encode, expected, produce, scenario_events

pytestmark = pytest.mark.integration


def _kill_when_projecting(worker: Worker, low: int, timeout: float = 60) -> int:
    """SIGKILL the worker as soon as it has projected more than ``low`` rows (mid-stream)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = worker.status()["projector"]["rows"]
        if rows > low:
            worker.kill()
            return int(rows)
        time.sleep(0.02)
    raise AssertionError(f"projector never passed {low} rows:\n{worker.tail()}")


def test_sigkill_mid_stream_leaves_exact_counts(worker_factory: Any) -> None:
    events = scenario_events(60_000, seed=21)
    raws = encode(events)
    first = worker_factory()
    topic = first.settings.topics.ingest_raw

    # Produce in the background so the kill lands while input is still arriving.
    producer = threading.Thread(target=produce, args=(first.kafka("raw"), topic, raws[:40_000]))
    producer.start()
    killed_at = _kill_when_projecting(first, 5_000)
    producer.join()
    assert killed_at < 40_000, "the kill must land mid-stream"

    second = worker_factory(like=first)
    killed_again = _kill_when_projecting(second, 1_000)  # a second crash, during recovery
    produce(first.kafka("raw"), topic, raws[40_000:])
    third = worker_factory(like=first)
    counts = third.wait_settled(timeout=240)

    assert_counts(counts, expected(events))
    assert killed_again > 0


def test_rebuild_replays_to_the_same_counts(worker: Worker) -> None:
    events = scenario_events(3_000, seed=8)
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode(events))
    before = worker.wait_settled()
    assert_counts(before, expected(events))

    worker.api.post("/api/admin/rebuild").raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = worker.status()
        if not status["rebuilding"] and status["projector"]["rows"] == len(events):
            break
        time.sleep(0.2)
    after = worker.wait_settled()
    assert after == before
    assert worker.status()["projector"]["rows"] == len(events)  # replayed, not kept

"""The runtime's own appends: an event the broker will never take (larger than a record may
be) does not hold its component forever. It is set aside (dead-lettered through the
event writer's hook, counted), the decision applies, and the other events of the decision reach
the real log and the projections."""

from __future__ import annotations

import asyncio

import pytest
from fixtures import Worker

from events.envelope import internal_event
from streams.producer import MAX_RECORD_BYTES, BatchSender, new_producer
from streams.writer import EventWriter, Record

pytestmark = pytest.mark.integration


def test_a_refused_event_is_set_aside_and_the_rest_appended(worker: Worker) -> None:
    topic = worker.settings.topics.events
    small = internal_event(
        "alert.acknowledged", region="371302", aggregate_id="alert-x", actor="duty-a",
        source="eams.api", payload={"alert_id": "alert-x", "note": "已电话确认"},
    )  # fmt: skip
    big = Record(topic, b"x" * (MAX_RECORD_BYTES + 1), b"alert-y")
    set_aside: list[tuple[str, Record, str]] = []
    applied: list[str] = []

    async def go() -> tuple[bool, dict[str, object]]:
        producer = new_producer(worker.kafka("stream"))
        await producer.start()
        try:
            writer = EventWriter(BatchSender(producer), "evaluator")

            async def dead_letter(component: str, record: Record, reason: str) -> None:
                set_aside.append((component, record, reason))

            writer.dead_letter = dead_letter
            writer.stage(
                [big, Record(topic, small.to_json(), b"alert-x")],
                then=lambda: applied.append("decision"),
            )
            ok = await writer.flush(force=True)
            return ok, writer.status()
        finally:
            await producer.stop()

    ok, status = asyncio.run(go())
    assert ok and applied == ["decision"]  # the component is not held by the refused event
    [(component, record, reason)] = set_aside
    assert component == "evaluator" and record is big
    assert f"{MAX_RECORD_BYTES:,}" in reason
    assert status["refused_events"] == 1 and status["pending_events"] == 0
    counts = worker.wait_settled()
    assert counts["events_by_type"] == {"alert.acknowledged": 1}

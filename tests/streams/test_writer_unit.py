"""The event writer encodes every component's events one way: actor, source, region,
aggregate key (the record's key too) and an id derived from a stable name."""

from __future__ import annotations

import datetime as dt
import uuid

import orjson

from events.clock import SHANGHAI
from streams.topics import TopicNames
from streams.writer import EventWriter

NS = uuid.UUID("3c0c8f4e-1b7a-4d47-8a55-5b2f4d9e6a10")
AT = dt.datetime(2026, 7, 1, 9, 30, tzinfo=SHANGHAI)


def _writer() -> EventWriter:
    return EventWriter(
        None,  # type: ignore[arg-type]  # encoding and staging never touch the sender
        "dispatcher",
        topics=TopicNames.for_namespace("t"),
        namespace=NS,
        actor="eams.alerting",
        now=lambda: AT,
    )


def test_an_event_is_encoded_with_the_components_identity_and_a_derived_id() -> None:
    payload = {"alert_id": "a-1", "reason": "抑制条件已消失 / the inhibitor has gone"}
    record = _writer().encode(
        "alert.inhibition_ended", region="371302", key="a-1", payload=payload, name="x|a-1|"
    )
    event = orjson.loads(record.value)
    assert record.topic == "t.events" and record.key == b"a-1"
    assert event["event_id"] == str(uuid.uuid5(NS, "x|a-1|"))
    assert (event["actor"], event["source"]) == ("eams.alerting", "eams.alerting")
    assert (event["region"], event["aggregate_id"]) == ("371302", "a-1")
    assert dt.datetime.fromisoformat(event["occurred_at"]) == AT
    assert dt.datetime.fromisoformat(event["recorded_at"]) == AT


def test_the_same_name_is_the_same_event_and_a_command_without_one_is_new_each_time() -> None:
    w = _writer()

    def event_id(name: str | None, actor: str | None = None) -> str:
        payload = {"alert_id": "a-1", "reason": "r"}
        record = w.encode(
            "alert.inhibition_ended",
            region="371302",
            key="a-1",
            payload=payload,
            name=name,
            actor=actor,
        )
        return str(orjson.loads(record.value)["event_id"])

    assert event_id("n") == event_id("n") != event_id("m")
    assert event_id(None, actor="duty-a") != event_id(None, actor="duty-a")


def test_append_stages_the_event_and_its_effect_waits_for_the_flush() -> None:
    w = _writer()
    applied: list[str] = []
    w.append(
        "alert.inhibition_ended",
        region="371302",
        key="a-1",
        payload={"alert_id": "a-1", "reason": "r"},
        name="n",
        then=lambda: applied.append("done"),
    )
    assert w.pending == 1 and applied == []
    assert w.stats.pending_events == 1

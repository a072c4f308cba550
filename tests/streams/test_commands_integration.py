"""Command handling on the real broker: one writer per aggregate, outcomes to the caller,
retries harmless, state folded from the event log when partitions are (re)assigned."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fixtures import TestBroker, read_events

from alerting.lifecycle import AlertAggregate
from alerting.silencing import SilenceAggregate
from eams.broker import ensure_namespace
from eams.settings import Settings
from events.regions import load_reference
from streams.commands import CommandBus, CommandHandler

pytestmark = pytest.mark.integration

REFERENCE = load_reference("shandong")
ALERT = "job_loss_rate:371302:20260701T090000"
RAISE = {
    "rule": "job_loss_rate",
    "region": "371302",
    "level": "III",
    "summary": "临沂市兰山区 失业率上升",
    "value": 5.0,
    "threshold": 4.0,
    "at": "2026-07-01T09:00:00+08:00",
}


async def namespace_settings(kafka: TestBroker, tmp_path: Path) -> Settings:
    """A fresh namespace with its topics and ACLs, as ``eams run`` creates them."""
    fields = {k.removeprefix("EAMS_").lower(): v for k, v in kafka.env.items()}
    settings = Settings(
        **fields,  # type: ignore[arg-type]
        state_dir=tmp_path,
        namespace=f"cmd-{uuid.uuid4().hex[:8]}",
    )
    await ensure_namespace(settings)
    return settings


async def log_of(settings: Settings) -> list[dict[str, Any]]:
    """Every event of the namespace's log, in partition order."""
    return await read_events(settings.kafka("stream"), settings.topics.events)


@pytest.fixture
async def running(
    kafka: TestBroker, tmp_path: Path
) -> AsyncIterator[tuple[Settings, CommandHandler, CommandBus]]:
    settings = await namespace_settings(kafka, tmp_path)
    handler = CommandHandler(
        settings.kafka("stream"),
        settings.topics,
        [AlertAggregate(), SilenceAggregate(REFERENCE)],
        REFERENCE,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(handler.run(stop))
    bus = CommandBus(settings.kafka("stream"), settings.topics, source="eams.api")
    await bus.start()
    await asyncio.wait_for(handler.ready.wait(), 60)
    try:
        yield settings, handler, bus
    finally:
        stop.set()
        await task
        await bus.stop()


async def test_racing_acknowledgements_have_one_winner(
    running: tuple[Settings, CommandHandler, CommandBus],
) -> None:
    settings, _, bus = running
    raised = await bus.submit(
        bus.command(
            "alert.raise", ALERT, actor="eams.alerting", payload=RAISE, source="eams.alerting"
        )
    )
    assert raised.accepted and raised.version == 1
    acks = [
        bus.command("alert.acknowledge", ALERT, actor=who, payload={"note": who})
        for who in ("duty-a", "duty-b")
    ]
    outcomes = await asyncio.gather(*(bus.send(c) for c in acks))
    assert sorted(o.accepted for o in outcomes) == [False, True]
    winner = next(o for o in outcomes if o.accepted)
    loser = next(o for o in outcomes if not o.accepted)
    who = "duty-a" if winner.command_id == acks[0].command_id else "duty-b"
    assert loser.code == "conflict" and f"already acknowledged by {who}" in (loser.reason or "")
    log = [e for e in await log_of(settings) if e["aggregate_id"] == ALERT]
    assert [e["event_type"] for e in log] == ["alert.raised", "alert.acknowledged"]
    assert log[1]["actor"] == who and log[1]["causation_id"] == str(winner.command_id)


async def test_a_retried_command_changes_nothing(
    running: tuple[Settings, CommandHandler, CommandBus],
) -> None:
    settings, handler, bus = running
    raise_ = bus.command("alert.raise", ALERT, actor="eams.alerting", payload=RAISE)
    first = await bus.submit(raise_)
    again = await bus.send(raise_)
    assert again.accepted and again.duplicate and again.version == first.version
    assert handler.stats.duplicates == 1
    log = [e for e in await log_of(settings) if e["aggregate_id"] == ALERT]
    assert [e["event_id"] for e in log] == [str(first.event_ids[0])]


async def test_scope_expected_version_and_unknown_alerts(
    running: tuple[Settings, CommandHandler, CommandBus],
) -> None:
    _, _, bus = running
    await bus.submit(bus.command("alert.raise", ALERT, actor="eams.alerting", payload=RAISE))
    jinan = await bus.send(
        bus.command("alert.acknowledge", ALERT, actor="officer-jn", scope=["370100"])
    )
    assert (jinan.accepted, jinan.code) == (False, "not_found")
    stale = await bus.send(
        bus.command("alert.acknowledge", ALERT, actor="duty-a", expected_version=0)
    )
    assert (stale.accepted, stale.code) == (False, "conflict")
    assert "at version 1, not 0" in (stale.reason or "")
    linyi = await bus.send(
        bus.command(
            "alert.acknowledge", ALERT, actor="officer-ly", scope=["371300"], expected_version=1
        )
    )
    assert linyi.accepted and linyi.version == 2
    missing = await bus.send(bus.command("alert.acknowledge", "nope:371302:x", actor="duty-a"))
    assert (missing.accepted, missing.code) == (False, "not_found")


async def test_a_scoped_sender_creates_nothing_outside_its_regions(
    running: tuple[Settings, CommandHandler, CommandBus],
) -> None:
    settings, _, bus = running
    payload = {"region": "370102", "minutes": 30, "reason": "维护"}
    elsewhere = await bus.send(
        bus.command("silence.create", "s-jn", actor="officer-ly", scope=["371300"], payload=payload)
    )
    assert (elsewhere.accepted, elsewhere.code) == (False, "forbidden")
    assert "region 370102 is outside your regions" in (elsewhere.reason or "")
    province = await bus.send(
        bus.command(
            "silence.create",
            "s-all",
            actor="officer-ly",
            scope=["371300"],
            payload={"level": "IV", "minutes": 30},
        )
    )
    assert not province.accepted  # a province-wide silence is the province's
    own = await bus.submit(
        bus.command(
            "silence.create",
            "s-ly",
            actor="officer-ly",
            scope=["371300"],
            payload={"region": "371302", "minutes": 30},
        )
    )
    ended = await bus.submit(
        bus.command("silence.end", "s-ly", actor="officer-ly", scope=["371300"])
    )
    assert (own.version, ended.version) == (1, 2)
    log = await log_of(settings)
    assert [e["event_type"] for e in log] == ["silence.created", "silence.expired"]


async def test_a_new_handler_folds_the_log_before_deciding(
    kafka: TestBroker, tmp_path: Path
) -> None:
    settings = await namespace_settings(kafka, tmp_path)
    bus = CommandBus(settings.kafka("stream"), settings.topics, source="eams.api")
    await bus.start()
    try:
        for generation in range(2):
            handler = CommandHandler(
                settings.kafka("stream"), settings.topics, [AlertAggregate()], REFERENCE
            )
            stop = asyncio.Event()
            task = asyncio.create_task(handler.run(stop))
            await asyncio.wait_for(handler.ready.wait(), 60)
            if generation == 0:
                await bus.submit(bus.command("alert.raise", ALERT, actor="a", payload=RAISE))
                await bus.submit(bus.command("alert.acknowledge", ALERT, actor="duty-a"))
            else:
                assert handler.stats.folded_events == 2
                again = await bus.send(bus.command("alert.acknowledge", ALERT, actor="duty-b"))
                assert not again.accepted and "already acknowledged by duty-a" in (
                    again.reason or ""
                )
            stop.set()
            await task
    finally:
        await bus.stop()


async def test_its_own_events_are_skipped_unparsed_and_another_writers_are_folded(
    running: tuple[Settings, CommandHandler, CommandBus],
) -> None:
    """A catch-up reads the partition back: the events of the handler's own decisions are
    skipped by their offsets (applied when decided), an event another writer appended to
    the same aggregate between two commands is folded and decides the next one."""
    from events.envelope import internal_event
    from streams.producer import new_producer

    settings, handler, bus = running
    await bus.submit(bus.command("alert.raise", ALERT, actor="a", payload=RAISE))
    other = internal_event(
        "alert.acknowledged", region="371302", aggregate_id=ALERT, actor="duty-elsewhere",
        source="test", payload={"alert_id": ALERT},
    )  # fmt: skip
    producer = new_producer(settings.kafka("stream"))
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.events, other.to_json(), key=ALERT.encode())
    finally:
        await producer.stop()
    again = await bus.send(bus.command("alert.acknowledge", ALERT, actor="duty-a"))
    assert not again.accepted and "already acknowledged by duty-elsewhere" in (again.reason or "")
    assert (handler.stats.skipped_own, handler.stats.folded_events) == (1, 1)
    log = await log_of(settings)
    assert [e["event_type"] for e in log] == ["alert.raised", "alert.acknowledged"]

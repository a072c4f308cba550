"""A broker that is not open (issue 9, finding 4), on the real local broker and a real worker.

The session broker runs SASL/SCRAM with ACLs. Without credentials, or with a wrong password, a
client cannot connect at all; the raw principal (API, importer) can write the raw topic and
nothing else, so it cannot forge or read ``<ns>.events``; the stream principal writes the
log but cannot write the raw topic, nor join a consumer group outside its namespace. The
worker itself, which uses both, still carries an input from the raw topic to the log.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from fixtures import Worker
from helpers import encode, event, produce

from streams.kafka import KafkaAccess

pytestmark = pytest.mark.integration


@pytest.fixture
def secured(worker: Worker) -> Worker:
    """The worker, on a broker that authenticates (skip on an external open broker)."""
    if not worker.kafka("raw").sasl:
        pytest.skip("EAMS_TEST_KAFKA_BOOTSTRAP points at a broker without authentication")
    return worker


def _refused_at_connect(access: KafkaAccess) -> bool:
    async def go() -> bool:
        producer = AIOKafkaProducer(**access.client_options(), request_timeout_ms=5000)
        try:
            await producer.start()
        except KafkaConnectionError:
            return True
        finally:
            await producer.stop()
        return False

    return asyncio.run(go())


def _write(access: KafkaAccess, topic: str) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True)
        try:
            await producer.start()
            await producer.send_and_wait(topic, b'{"forged": true}')
        finally:
            await producer.stop()

    asyncio.run(go())


def _subscribe(access: KafkaAccess, topic: str, group: str) -> int:
    async def go() -> int:
        consumer = AIOKafkaConsumer(
            topic, **access.client_options(), group_id=group, auto_offset_reset="earliest"
        )
        try:
            await consumer.start()
            batch = await consumer.getmany(timeout_ms=5000)
            return sum(len(records) for records in batch.values())
        finally:
            await consumer.stop()

    return asyncio.run(go())


def _log_values(access: KafkaAccess, topic: str) -> list[bytes]:
    async def go() -> list[bytes]:
        consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(3)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            values: list[bytes] = []
            behind = {tp for tp in tps if ends[tp] > 0}
            while behind:
                batch = await consumer.getmany(timeout_ms=1000)
                values += [r.value or b"" for records in batch.values() for r in records]
                behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
            return values
        finally:
            await consumer.stop()

    return asyncio.run(go())


def test_a_client_without_credentials_cannot_connect(secured: Worker) -> None:
    assert _refused_at_connect(KafkaAccess.plaintext(secured.bootstrap))
    raw = secured.kafka("raw")
    assert raw.username is not None
    wrong = raw.with_role("raw", raw.username, "not-the-password")
    assert _refused_at_connect(wrong)


def test_the_raw_principal_cannot_forge_or_read_the_log(secured: Worker) -> None:
    topics, raw = secured.settings.topics, secured.kafka("raw")
    before = _log_values(secured.kafka("stream"), topics.events)
    with pytest.raises(TopicAuthorizationFailedError):
        _write(raw, topics.events)
    with pytest.raises(TopicAuthorizationFailedError):
        _write(raw, topics.commands)
    with pytest.raises(TopicAuthorizationFailedError):
        _subscribe(raw, topics.events, f"{secured.namespace}.peek")
    assert _log_values(secured.kafka("stream"), topics.events) == before


def test_the_stream_principal_writes_the_log_but_not_the_raw_topic(secured: Worker) -> None:
    topics, stream = secured.settings.topics, secured.kafka("stream")
    with pytest.raises(TopicAuthorizationFailedError):
        _write(stream, topics.ingest_raw)
    with pytest.raises(GroupAuthorizationFailedError):
        _subscribe(stream, topics.ingest_raw, "someone-else.ingest")
    _write(stream, topics.commands)
    assert b'{"forged": true}' in _log_values(stream, topics.commands)


def test_the_worker_carries_raw_input_to_the_log_under_its_principals(secured: Worker) -> None:
    flag = event("disaster_area.flagged", "371300", {
        "disaster_id": "flood-1", "kind": "natural_disaster", "severity": "IV",
        "regions": ["371302"], "title": "洪涝", "period_start": "2026-06-01"})  # fmt: skip
    produce(secured.kafka("raw"), secured.settings.topics.ingest_raw, encode([flag]))
    counts = secured.wait_settled()
    assert counts["events"] == 1 and counts["events_by_type"] == {"disaster_area.flagged": 1}
    assert counts["facts"]["disaster_flags"] == 1
    logged = _log_values(secured.kafka("stream"), secured.settings.topics.events)
    assert any(flag["event_id"].encode() in value for value in logged)

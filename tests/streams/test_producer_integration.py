"""BatchSender and EventWriter on the real broker: every caller waits for its own records,
and a decision's effect waits for its events.

Every client here is the admin principal (a super user: no ACLs on these test topics).
The failures are the broker's own: a topic whose ``max.message.bytes`` is smaller than a
record refuses its batch (MessageSizeTooLargeError), and raising that limit afterwards
(an admin config change) is a transient error that goes away.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError
from fixtures import TestBroker

from streams.kafka import KafkaAccess
from streams.partitioning import partition_for
from streams.producer import BatchSender, new_producer
from streams.writer import EventWriter, Record

pytestmark = pytest.mark.integration

SMALL_LIMIT = 4096  # bytes a record batch may have on the "strict" topics


async def _topic(kafka: KafkaAccess, *, limit: int | None = None) -> str:
    name = f"t-producer-{uuid.uuid4().hex[:8]}"
    configs = {"max.message.bytes": str(limit)} if limit else {}
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1, topic_configs=configs)])
    finally:
        await admin.close()
    return name


async def _set_limit(kafka: KafkaAccess, topic: str, limit: int) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(limit)}
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


async def _read_all(kafka: KafkaAccess, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(records)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return out
    finally:
        await consumer.stop()


def _keys_on_distinct_partitions() -> tuple[bytes, bytes]:
    a = b"key-0"
    for i in range(1, 100):
        b = f"key-{i}".encode()
        if partition_for(b, 3) != partition_for(a, 3):
            return a, b
    raise AssertionError("no two keys on distinct partitions")


@pytest.fixture
def admin(kafka: TestBroker) -> KafkaAccess:
    return kafka.kafka("admin")


@pytest.fixture
async def producer(admin: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    p = new_producer(admin)
    await p.start()
    yield p
    await p.stop()


async def test_each_caller_waits_for_its_own_records(
    admin: KafkaAccess, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(admin)
    sender = BatchSender(producer)
    mine: list[asyncio.Future[None]] = []
    started = asyncio.Event()

    async def other() -> None:
        await sender.add(topic, b"other", b"k")
        started.set()
        await sender.flush()  # hands over every open batch, the one below included

    async def me() -> None:
        for i in range(200):
            mine.append(await sender.add(topic, f"mine-{i}".encode(), f"k{i}".encode()))
        task = asyncio.create_task(other())
        await started.wait()
        await sender.flush()
        # answered only once every batch holding my records is acknowledged
        assert all(f.done() and f.exception() is None for f in mine)
        await task

    await me()
    values = sorted(r.value for r in await _read_all(admin, topic))
    assert len(values) == 201 and values.count(b"other") == 1


async def test_a_caller_does_not_raise_for_another_callers_refused_batch(
    admin: KafkaAccess, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(admin, limit=SMALL_LIMIT)
    sender = BatchSender(producer)
    good_key, bad_key = _keys_on_distinct_partitions()

    async def good() -> None:
        await sender.add(topic, b"fine", good_key)
        await sender.flush()

    async def bad() -> None:
        await sender.add(topic, b"x" * (SMALL_LIMIT * 4), bad_key)
        await sender.flush()

    results = await asyncio.gather(good(), bad(), return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], MessageSizeTooLargeError)
    assert [r.value for r in await _read_all(admin, topic)] == [b"fine"]


async def test_concurrent_callers_flushing_at_random_lose_nothing(
    admin: KafkaAccess, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(admin)
    sender = BatchSender(producer)

    async def caller(n: int) -> None:
        for i in range(400):
            await sender.add(topic, f"{n}:{i}".encode(), f"caller-{n}".encode())
            if (i * 7 + n) % 53 == 0:
                await sender.flush()
            if i % 17 == 0:
                await asyncio.sleep(0)
        await sender.flush()

    await asyncio.gather(*(caller(n) for n in range(12)))
    records = await _read_all(admin, topic)
    assert len(records) == 12 * 400
    per_caller: dict[str, list[int]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        n, i = r.value.decode().split(":")
        per_caller.setdefault(n, []).append(int(i))
    assert all(seq == list(range(400)) for seq in per_caller.values())  # in order per key


async def test_the_outbox_applies_a_decision_only_once_its_events_are_in_the_log(
    admin: KafkaAccess, producer: AIOKafkaProducer
) -> None:
    topic = await _topic(admin, limit=SMALL_LIMIT)
    outbox = EventWriter(BatchSender(producer), "test", timeout=10, backoff=0.2)
    applied: list[str] = []
    big = Record(topic, b"y" * (SMALL_LIMIT * 2), b"alert-1")
    outbox.stage([big], then=lambda: applied.append("raised"))

    assert not await outbox.flush()  # the broker refuses the batch
    status = outbox.status()
    assert applied == [] and status["pending_events"] == 1 and status["flush_failures"] == 1
    assert "MessageSizeTooLarge" in (status["last_flush_error"] or "")
    assert status["retry_in"] is not None and status["retry_in"] > 0
    assert not await outbox.settled()  # still in its backoff: nothing new may be decided

    await _set_limit(admin, topic, 1024 * 1024)  # the transient cause goes away
    await asyncio.sleep(0.3)
    assert await outbox.settled()  # the same record sent again, then the decision applied
    assert applied == ["raised"]
    assert outbox.status()["pending_events"] == 0 and outbox.stats.flushes == 1
    assert [r.value for r in await _read_all(admin, topic)] == [big.value]  # exactly once

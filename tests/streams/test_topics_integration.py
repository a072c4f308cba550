"""What each topic keeps, on the real broker: raw for hours, the log forever, the DLQ
compacted; an install whose topics were created before keeps nothing longer either."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fixtures import TestBroker

from streams.topics import (
    RAW_RETENTION_MS,
    TopicNames,
    describe_topic_configs,
    ensure_topics,
)

pytestmark = pytest.mark.integration

WATCHED = ("cleanup.policy", "retention.ms", "segment.ms", "max.message.bytes")


async def _read_configs(kafka: TestBroker, names: TopicNames) -> dict[str, dict[str, str | None]]:
    admin = AIOKafkaAdminClient(**kafka.kafka("admin").client_options())
    await admin.start()
    try:
        found = await describe_topic_configs(admin, list(names.all()))
    finally:
        await admin.close()
    return {t: {k: v for k, (v, _dynamic) in c.items() if k in WATCHED} for t, c in found.items()}


def _configs(
    kafka: TestBroker, names: TopicNames, raw_retention: str
) -> dict[str, dict[str, str | None]]:
    """The topics' configurations once the raw topic's retention reads ``raw_retention``
    (an altered configuration reaches the broker's metadata a moment after the answer)."""
    deadline = time.monotonic() + 15
    while True:
        configs = asyncio.run(_read_configs(kafka, names))
        if configs[names.ingest_raw]["retention.ms"] == raw_retention:
            return configs
        assert time.monotonic() < deadline, configs
        time.sleep(0.2)


def test_new_topics_get_their_retention(kafka: TestBroker) -> None:
    names = TopicNames.for_namespace(f"ret-{uuid.uuid4().hex[:6]}")
    asyncio.run(ensure_topics(kafka.kafka("admin"), 3, names))
    configs = _configs(kafka, names, str(RAW_RETENTION_MS))
    assert RAW_RETENTION_MS == 86_400_000
    assert configs[names.ingest_raw]["segment.ms"] == "3600000"  # old segments roll away
    assert configs[names.ingest_raw]["cleanup.policy"] == "delete"
    for forever in (names.events, names.commands):
        assert configs[forever]["retention.ms"] == "-1"
        assert configs[forever]["cleanup.policy"] == "delete"
    assert configs[names.dlq]["cleanup.policy"] == "compact"


def test_an_existing_install_is_brought_in_line_keeping_other_settings(
    kafka: TestBroker,
) -> None:
    names = TopicNames.for_namespace(f"old-{uuid.uuid4().hex[:6]}")
    forever = {"retention.ms": "-1", "retention.bytes": "-1"}

    async def old_release() -> None:  # what ensure_topics created before: all forever
        admin = AIOKafkaAdminClient(**kafka.kafka("admin").client_options())
        await admin.start()
        try:
            hand = {"max.message.bytes": "2000000"}  # an operator's own setting
            await admin.create_topics(
                [NewTopic(n, 3, 1, topic_configs=forever | hand) for n in names.all()]
            )
        finally:
            await admin.close()

    asyncio.run(old_release())
    asyncio.run(ensure_topics(kafka.kafka("admin"), 3, names, raw_retention_ms=6 * 3_600_000))
    configs = _configs(kafka, names, str(6 * 3_600_000))
    assert configs[names.ingest_raw]["segment.ms"] == "3600000"
    assert configs[names.events]["retention.ms"] == "-1"
    assert configs[names.dlq]["cleanup.policy"] == "compact"
    assert all(c["max.message.bytes"] == "2000000" for c in configs.values())  # kept

    # again with a shorter retention: the new value wins, a quarter of it per segment
    asyncio.run(ensure_topics(kafka.kafka("admin"), 3, names, raw_retention_ms=20_000))
    assert _configs(kafka, names, "20000")[names.ingest_raw]["segment.ms"] == "5000"

"""The dead-letter topic ``eams.events.dlq``: what was rejected, why, and how to resubmit it.

A dead-lettered message keeps the rejected input's original bytes as its value (nothing is
lost or re-encoded); the reason, the field it names, the source, the time and where it came
from travel as headers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import topics
from streams.kafka import KafkaAccess


@dataclass(frozen=True)
class DeadLetter:
    """One rejected input as stored in the dead-letter topic."""

    partition: int
    offset: int
    raw: bytes
    reason: str
    field: str
    source: str
    rejected_at: str
    origin: str
    line: str | None

    @property
    def ref(self) -> str:
        """How ``eams dlq replay`` names this entry: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"


def dlq_headers(
    reason: str, field_name: str, source: str, origin: str, line: str | None
) -> list[tuple[str, bytes]]:
    """Headers of a dead-lettered message (its value stays the original bytes)."""
    headers = [
        (topics.H_REASON, reason.encode()),
        (topics.H_FIELD, field_name.encode()),
        (topics.H_SOURCE, source.encode()),
        (topics.H_REJECTED_AT, dt.datetime.now(dt.UTC).isoformat().encode()),
        (topics.H_ORIGIN, origin.encode()),
    ]
    if line:
        headers.append((topics.H_LINE, line.encode()))
    return headers


async def read_dead_letters(
    kafka: KafkaAccess, dlq_topic: str, limit: int | None = None
) -> list[DeadLetter]:
    """Every dead letter from the start of the topic (oldest first), up to ``limit``."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        parts = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - metadata only
        partitions = sorted(parts.partitions_for_topic(dlq_topic) or set())
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    h = r.headers
                    found.append(
                        DeadLetter(
                            partition=r.partition,
                            offset=r.offset,
                            raw=r.value or b"",
                            reason=topics.header(h, topics.H_REASON) or "",
                            field=topics.header(h, topics.H_FIELD) or "",
                            source=topics.header(h, topics.H_SOURCE) or "",
                            rejected_at=topics.header(h, topics.H_REJECTED_AT) or "",
                            origin=topics.header(h, topics.H_ORIGIN) or "",
                            line=topics.header(h, topics.H_LINE),
                        )
                    )
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            if not batch:
                # Nothing more arrived within the timeout: positions caught up with the ends.
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    found.sort(key=lambda d: (d.rejected_at, d.partition, d.offset))
    return found[:limit] if limit else found


async def resubmit(
    kafka: KafkaAccess, raw_topic: str, items: list[tuple[bytes, str]], source: str = "dlq-replay"
) -> int:
    """Send corrected (or unchanged) inputs back to ``eams.ingest.raw``.

    ``items`` pairs the bytes to submit with the ``partition:offset`` of the dead letter
    they replace (kept as a header for the audit trail). Dedupe by ``event_id`` makes a
    replay safe to repeat.
    """
    from streams.pipeline import raw_key

    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for raw, ref in items:
            await producer.send(
                raw_topic,
                value=raw,
                key=raw_key(raw),
                headers=[(topics.H_SOURCE, source.encode()), (topics.H_REPLAY_OF, ref.encode())],
            )
        await producer.flush()
    finally:
        await producer.stop()
    return len(items)

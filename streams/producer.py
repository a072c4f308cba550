"""Producing to Kafka in batches: :class:`BatchSender`, and :class:`RawProducer` for inputs.

aiokafka's ``send()`` costs ~13 µs per message here (a future, the partitioner and the
accumulator each time); building record batches per partition ourselves and handing them
over with ``send_batch()`` costs ~5 µs (measured: 79k vs 194k messages/s). Partitions
are chosen as Kafka's default partitioner does (murmur2 of the key, as the Java client;
:mod:`streams.partitioning`), so keyed records land where any other client would put them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from streams import topics
from streams.partitioning import partition_for
from streams.pipeline import raw_key

Headers = Sequence[tuple[str, bytes]]


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    """An idempotent producer tuned for batches."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


class BatchSender:
    """Collects records per (topic, partition) into record batches; ``flush`` sends them all
    and waits until the broker acknowledged every one (raising if any failed)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._round_robin = 0
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], BatchBuilder] = {}
        self._inflight: list[asyncio.Future[object]] = []
        self.pending = 0

    async def _partitions_of(self, topic: str) -> list[int]:
        parts = self._partitions.get(topic)
        if parts is None:
            parts = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = parts
        return parts

    async def add(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        """Queue one record (sent when its batch fills or on :meth:`flush`)."""
        parts = await self._partitions_of(topic)
        if key is None:
            self._round_robin += 1
            partition = parts[self._round_robin % len(parts)]
        else:
            partition = parts[partition_for(key, len(parts))]
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
            await self._send(slot, batch)
            batch = self._open[slot] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in one batch")
        self.pending += 1

    async def _send(self, slot: tuple[str, int], batch: BatchBuilder) -> None:
        topic, partition = slot
        future = await self._producer.send_batch(batch, topic, partition=partition)
        self._inflight.append(future)

    async def flush(self) -> None:
        """Send every open batch and wait for all acknowledgements. Each batch is taken out
        before it is sent, so records another task adds meanwhile go to a new batch (sent by
        that task's flush), never into one this flush discards."""
        for slot in list(self._open):
            batch = self._open.pop(slot, None)
            if batch is not None and batch.record_count():
                await self._send(slot, batch)
        inflight, self._inflight = self._inflight, []
        self.pending = 0
        if inflight:
            await asyncio.gather(*inflight)


class RawProducer:
    """Produces raw inputs, keyed by event id and tagged with their source, in batches."""

    def __init__(self, bootstrap: str, topic: str, source: str, flush_every: int = 20000) -> None:
        self.topic = topic
        self.source = source
        self.flush_every = flush_every
        self._producer = new_producer(bootstrap)
        self._sender = BatchSender(self._producer)

    async def __aenter__(self) -> RawProducer:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def submit(
        self, raw: bytes, *, line: int | None = None, source: str | None = None
    ) -> None:
        """Queue one raw input; call :meth:`flush` to wait until the broker has it."""
        headers = [(topics.H_SOURCE, (source or self.source).encode())]
        if line is not None:
            headers.append((topics.H_LINE, str(line).encode()))
        await self._sender.add(self.topic, raw, raw_key(raw), headers)
        if self._sender.pending >= self.flush_every:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every queued input is acknowledged by the broker (raises if one failed)."""
        await self._sender.flush()

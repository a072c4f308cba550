"""The projector: ``eams.events`` -> ClickHouse, with an exactly-once effect.

Batches are kept per partition. Each batch ``[first, last]`` of partition ``p`` is written
in this order:

1. a write-ahead row ``(p, first, last)`` in ``projection_positions``;
2. the batch's rows into ``events`` with ``insert_deduplication_token = events:p:first:last``
   (the materialized views behind ``events`` are deduplicated with the same token);
3. dead-lettered documents (if any) to ``eams.events.dlq``.

On start the projector reads the last write-ahead row of each partition and re-reads
exactly that range first, inserting it again with the same token: whatever the crash left
half done (the base table written but a view not, or nothing at all) is completed, and
nothing is counted twice. Then it goes on from ``last + 1``.

Duplicates in the log (at-least-once delivery upstream) are dropped by ``event_id``: an
event's id always maps to one partition (the key is its aggregate), so a per-partition
window of recent ids, seeded from ``events`` itself, is enough and is reproducible on replay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from events.errors import EventRejectedError
from events.regions import RegionReference
from projections.client import Store, run
from projections.errors import ProjectionError
from projections.rows import COLUMNS, to_row
from streams.dlq import dlq_headers
from streams.ingest import DedupeState
from streams.topics import TopicNames

log = logging.getLogger(__name__)

NAME = "events"


#: The projector's window of recent event ids (no marks needed: just seen or not).
RecentIds = DedupeState


@dataclass
class ProjectorStats:
    """What the projector has done since start, shown by ``/api/status``."""

    rows: int = 0
    batches: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    replayed_batches: int = 0
    positions: dict[int, int] = field(default_factory=dict)  # next offset per partition
    highwater: dict[int, int] = field(default_factory=dict)
    version: int = 0  # bumps after every batch; the console waits on it
    start_ends: dict[int, int] = field(default_factory=dict)  # log ends when it started
    caught_up: bool = False  # True once everything in the log at start is projected

    def note_progress(self) -> None:
        """Set ``caught_up`` once every partition reached its end offset at start (a
        snapshot: under constant load the live lag is rarely exactly zero)."""
        if not self.caught_up and self.start_ends:
            self.caught_up = all(
                self.positions.get(p, 0) >= end for p, end in self.start_ends.items()
            )

    @property
    def lag(self) -> int:
        """Events in the log not yet projected."""
        return sum(max(0, hw - self.positions.get(p, 0)) for p, hw in self.highwater.items())


@dataclass
class _Pending:
    """Messages of one partition waiting to be written."""

    records: list[ConsumerRecord[bytes, bytes]] = field(default_factory=list)
    since: float = 0.0
    replay_last: int | None = None  # set while re-reading a write-ahead batch


def read_positions(store: Store, topic: str) -> dict[int, tuple[int, int]]:
    """The last write-ahead batch ``(first, last)`` of each partition."""
    rows = store.rows(
        "SELECT partition, argMax(first_offset, last_offset), max(last_offset) "
        "FROM projection_positions WHERE projector = {p:String} AND topic = {t:String} "
        "GROUP BY partition",
        {"p": NAME, "t": topic},
    )
    return {int(p): (int(first), int(last)) for p, first, last in rows}


def seed_ids(store: Store, partition: int, before: int, capacity: int) -> RecentIds:
    """The recent ids of ``partition`` below offset ``before``, as they were when written."""
    ids = RecentIds(capacity)
    rows = store.rows(
        "SELECT event_id FROM events WHERE kafka_partition = {p:UInt16} "
        "AND kafka_offset < {o:UInt64} ORDER BY kafka_offset DESC LIMIT {n:UInt64}",
        {"p": partition, "o": before, "n": capacity},
    )
    for (event_id,) in reversed(rows):
        ids.add(event_id.bytes if isinstance(event_id, UUID) else UUID(str(event_id)).bytes)
    return ids


class Projector:
    """Consumes every partition of ``eams.events`` and writes the projections."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topic_names: TopicNames,
        store: Store,
        reference: RegionReference,
        batch: int = 20000,
        linger_ms: int = 200,
        window: int = 500_000,
        on_batch: Callable[[ProjectorStats], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topic_names
        self.store = store
        self.reference = reference
        self.batch = batch
        self.linger = linger_ms / 1000
        self.window = window
        self.on_batch = on_batch
        self.stats = ProjectorStats()
        self._ids: dict[int, RecentIds] = {}
        self._pending: dict[int, _Pending] = {}
        self._producer: AIOKafkaProducer | None = None
        self.changed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set; flushes what is buffered before returning."""
        positions = await run(read_positions, self.store, self.topics.events)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await consumer.start()
        await self._producer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - metadata only
            parts = cluster.partitions_for_topic(self.topics.events) or set()
            if not parts:
                raise ProjectionError(
                    f"topic {self.topics.events} has no partitions; `eams run` creates it"
                )
            tps = [TopicPartition(self.topics.events, p) for p in sorted(parts)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            self.stats.start_ends = {tp.partition: ends[tp] for tp in tps}
            for tp in tps:
                pending = _Pending()
                if tp.partition in positions:
                    first, last = positions[tp.partition]
                    consumer.seek(tp, first)
                    pending.replay_last = last
                    self.stats.positions[tp.partition] = first
                    before = first
                else:
                    await consumer.seek_to_beginning(tp)
                    self.stats.positions[tp.partition] = 0
                    before = 0
                self._pending[tp.partition] = pending
                self._ids[tp.partition] = await run(
                    seed_ids, self.store, tp.partition, before, self.window // max(1, len(tps))
                )
            self.stats.note_progress()  # an empty log is caught up at once
            await self._loop(consumer, tps, stop)
        finally:
            await consumer.stop()
            await self._producer.stop()

    async def _loop(
        self, consumer: AIOKafkaConsumer, tps: list[TopicPartition], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            fetched = await consumer.getmany(
                timeout_ms=max(10, int(self.linger * 1000)), max_records=self.batch
            )
            now = time.monotonic()
            for tp, records in fetched.items():
                pending = self._pending[tp.partition]
                if not pending.records:
                    pending.since = now
                pending.records.extend(records)
            for tp in tps:
                hw = consumer.highwater(tp)
                if hw is not None:
                    self.stats.highwater[tp.partition] = hw
                await self._maybe_flush(tp.partition, now, force=False)
        for tp in tps:
            await self._maybe_flush(tp.partition, time.monotonic(), force=True)

    async def _maybe_flush(self, partition: int, now: float, *, force: bool) -> None:
        pending = self._pending[partition]
        while pending.records:
            if pending.replay_last is not None:
                # Re-read exactly the write-ahead range before anything else.
                cut = _count_upto(pending.records, pending.replay_last)
                if cut == len(pending.records) and pending.records[-1].offset < pending.replay_last:
                    return  # the range is not fully read yet
                chunk, pending.records = pending.records[:cut], pending.records[cut:]
                await self._write(partition, chunk, replay=True)
                pending.replay_last = None
                pending.since = now
                continue
            full = len(pending.records) >= self.batch
            if not (full or force or now - pending.since >= self.linger):
                return
            chunk, pending.records = pending.records[: self.batch], pending.records[self.batch :]
            await self._write(partition, chunk, replay=False)
            pending.since = now

    def _convert(
        self, partition: int, chunk: list[ConsumerRecord[bytes, bytes]]
    ) -> tuple[
        list[tuple[Any, ...]], list[tuple[ConsumerRecord[bytes, bytes], EventRejectedError]], int
    ]:
        """Rows of the new events of a batch, the documents to dead-letter, and how many
        duplicates were dropped (in order: the dedupe window is per partition)."""
        ids = self._ids[partition]
        rows: list[tuple[Any, ...]] = []
        rejected: list[tuple[ConsumerRecord[bytes, bytes], EventRejectedError]] = []
        duplicates = 0
        for record in chunk:
            try:
                doc = orjson.loads(record.value or b"")
                if not isinstance(doc, dict):
                    raise EventRejectedError("(body)", "expected a JSON object")
                row = to_row(doc, partition, record.offset, self.reference)
            except orjson.JSONDecodeError as exc:
                rejected.append((record, EventRejectedError("(body)", f"not JSON: {exc}")))
                continue
            except EventRejectedError as exc:
                rejected.append((record, exc))
                continue
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                # One odd document must not stop the projection of everything after it.
                rejected.append((record, EventRejectedError("(body)", f"cannot project: {exc}")))
                continue
            if not ids.add(row[0].bytes):
                duplicates += 1
                continue
            rows.append(row)
        return rows, rejected, duplicates

    async def _write(
        self, partition: int, chunk: list[ConsumerRecord[bytes, bytes]], *, replay: bool
    ) -> None:
        first, last = chunk[0].offset, chunk[-1].offset
        # Decoding and converting a batch is CPU work: do it off the event loop, so the API,
        # the evaluator and deliveries stay responsive while a large batch is projected.
        rows, rejected, duplicates = await run(self._convert, partition, chunk)
        self.stats.duplicates += duplicates
        if not replay:
            await run(
                self.store.insert,
                "projection_positions",
                [(NAME, self.topics.events, partition, first, last, len(rows))],
                ("projector", "topic", "partition", "first_offset", "last_offset", "rows"),
            )
        else:
            self.stats.replayed_batches += 1
        if rows:
            settings = {
                "insert_deduplication_token": f"{NAME}:{partition}:{first}:{last}",
                "deduplicate_blocks_in_dependent_materialized_views": 1,
            }
            columns = list(zip(*rows, strict=True))
            await run(self.store.insert_columns, "events", columns, COLUMNS, settings)
        for record, reason in rejected:
            await self._dead_letter(record, reason)
        self.stats.rows += len(rows)
        self.stats.batches += 1
        self.stats.positions[partition] = last + 1
        self.stats.note_progress()
        self.stats.version += 1
        self.changed.set()
        self.changed = asyncio.Event()
        if self.on_batch is not None:
            self.on_batch(self.stats)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: EventRejectedError
    ) -> None:
        assert self._producer is not None
        origin = f"{record.topic}:{record.partition}:{record.offset}"
        headers = dlq_headers(str(exc), exc.field, "projector", origin, None)
        await self._producer.send_and_wait(
            self.topics.dlq, value=record.value, key=record.key, headers=headers
        )
        self.stats.dead_lettered += 1


def _count_upto(records: list[ConsumerRecord[bytes, bytes]], last: int) -> int:
    """How many leading records have an offset <= ``last``."""
    n = 0
    for record in records:
        if record.offset > last:
            break
        n += 1
    return n

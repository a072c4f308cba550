"""The projector: ``eams.events`` -> ClickHouse, with an exactly-once effect.

A batch holds the events of every partition that has some waiting: a range
``[first, last]`` per partition, written as one block (an insert into ``events`` and its
materialized views has a fixed cost of about 0.2 s on the embedded engine, whatever its
size: paid once per batch, not once per partition). In this order:

1. the write-ahead rows ``(p, first, last)`` of the batch's partitions in
   ``projection_positions``, in one insert, each carrying the batch's token
   ``events:p:first:last[;p:first:last…]`` (partitions in order; :func:`batch_token`);
2. the batch's rows into ``events`` with ``insert_deduplication_token`` = that token (the
   materialized views behind ``events`` are deduplicated with the same token);
3. the events it could not write, parked in the quarantine table with the reason
   (:mod:`projections.quarantine`).

Batches are written one after the other, so only the last can be incomplete. On start the
projector reads the last write-ahead row of each partition (:func:`replays`): a batch that
is the last row of every partition it names may be the incomplete one, and is re-read and
inserted again, the same ranges as the same block with the same token: whatever the crash
left half done (the base table written but a view not, or nothing at all) is completed,
and nothing is counted twice (a batch that was complete is dropped by its token). A batch
some of whose partitions have moved on was followed by another, so it was complete: those
partitions go on from ``last + 1``. Rows from before migration 0014 (no token) name one
partition each and are replayed on their own, as then.

No event stops the projection (no poison pill): a document that cannot be converted is
parked at once; a batch ClickHouse refuses for its data is bisected
(:func:`projections.quarantine.insert_isolating`) so only the rows refused on their own are
parked, with tokens derived from the batch's, so a replay repeats the same halves. An
unreachable store is retried with backoff (``store_errors``, ``last_store_error`` in
``/api/status``), never skipped: the batch stays where it is until it is written.

Duplicates in the log (at-least-once delivery upstream) are dropped by ``event_id``: an
event's id always maps to one partition (the key is its aggregate), so a per-partition
window of recent ids, seeded from ``events`` itself, is enough and is reproducible on replay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from prometheus_client import Histogram

from events.clock import SHANGHAI
from events.errors import EventRejectedError
from events.regions import RegionReference
from projections import quarantine
from projections.client import Store, run
from projections.errors import ProjectionError, StoreUnavailableError
from projections.rows import COLUMNS, DEFAULT_BOUNDS, column_bounds, to_row
from streams.context import about_event, bind_batch
from streams.ingest import DedupeState
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

_OCCURRED = COLUMNS.index("occurred_at")
_PERSON = COLUMNS.index("person_id")
_PARTITION = COLUMNS.index("kafka_partition")
_OFFSET = COLUMNS.index("kafka_offset")

T = TypeVar("T")

#: The materialized views behind ``events`` deduplicate a retried block by its token too.
_INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}

log = logging.getLogger(__name__)

NAME = "events"


#: The projector's window of recent event ids (no marks needed: just seen or not).
RecentIds = DedupeState


#: Each batch the projector writes: how long it took (convert, write-ahead row, insert,
#: quarantine) and how many events it held.
BATCH_SECONDS = Histogram(
    "eams_projector_batch_seconds",
    "Seconds to project one batch of events into ClickHouse",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_EVENTS = Histogram(
    "eams_projector_batch_events",
    "Events in one batch the projector wrote",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000, 50000),
)


@dataclass
class ProjectorStats:
    """What the projector has done since start, shown by ``/api/status``."""

    rows: int = 0
    batches: int = 0
    duplicates: int = 0
    quarantined: int = 0  # events parked since start (see projections.quarantine)
    bisected_batches: int = 0  # batches ClickHouse refused whole and that were split
    store_errors: int = 0  # calls that found the store unreachable (and were retried)
    last_store_error: str = ""
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
    since: float = 0.0  # when the oldest of them arrived


def read_positions(store: Store, topic: str) -> dict[int, tuple[int, int, str]]:
    """The last write-ahead range ``(first, last, batch token)`` of each partition (the
    token is '' for rows written before migration 0014)."""
    rows = store.rows(
        "SELECT partition, argMax(first_offset, last_offset), max(last_offset), "
        "argMax(batch, last_offset) "
        "FROM projection_positions WHERE projector = {p:String} AND topic = {t:String} "
        "GROUP BY partition",
        {"p": NAME, "t": topic},
    )
    return {int(p): (int(first), int(last), str(batch)) for p, first, last, batch in rows}


def batch_token(ranges: dict[int, tuple[int, int]]) -> str:
    """The deduplication token of a batch of these partition ranges: ``events:p:first:last``
    per partition, in partition order, joined by ``;`` (one partition: the token it had
    before batches spanned partitions)."""
    parts = ";".join(f"{p}:{first}:{last}" for p, (first, last) in sorted(ranges.items()))
    return f"{NAME}:{parts}"


def parse_token(token: str) -> dict[int, tuple[int, int]]:
    """The partition ranges a :func:`batch_token` names."""
    ranges: dict[int, tuple[int, int]] = {}
    for part in token.removeprefix(f"{NAME}:").split(";"):
        p, first, last = part.split(":")
        ranges[int(p)] = (int(first), int(last))
    return ranges


@dataclass(frozen=True)
class Replay:
    """A batch to insert again at start: its ranges and its token."""

    token: str
    ranges: dict[int, tuple[int, int]]


def replays(positions: dict[int, tuple[int, int, str]]) -> tuple[list[Replay], dict[int, int]]:
    """From the last write-ahead row of each partition: the batches to insert again (those
    that may be incomplete, see the module docstring) and where every other partition goes
    on (``last + 1`` of a complete batch)."""
    out: list[Replay] = []
    resume: dict[int, int] = {}
    seen: set[str] = set()
    for p, (first, last, token) in sorted(positions.items()):
        if not token:  # a row from before migration 0014: a batch of this partition alone
            out.append(Replay(batch_token({p: (first, last)}), {p: (first, last)}))
            continue
        if token in seen:
            continue
        seen.add(token)
        ranges = parse_token(token)
        if all(positions.get(q, (-1, -1, ""))[2] == token for q in ranges):
            out.append(Replay(token, ranges))
        else:  # followed by a batch of another partition it names: it was complete
            for q, (_, q_last) in ranges.items():
                if positions.get(q, (-1, -1, ""))[2] == token:
                    resume[q] = q_last + 1
    return out, resume


def read_bounds(store: Store) -> dict[str, int]:
    """The bounds of the typed integer columns of ``events`` as the live schema has them."""
    rows = store.rows(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = 'events'"
    )
    return column_bounds({str(name): str(kind) for name, kind in rows}) or dict(DEFAULT_BOUNDS)


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
        kafka: KafkaAccess,
        topic_names: TopicNames,
        store: Store,
        reference: RegionReference,
        batch: int = 20000,
        linger_ms: int = 200,
        window: int = 500_000,
        on_batch: Callable[[ProjectorStats], None] | None = None,
        crash_after_wal: int = 0,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.store = store
        self.reference = reference
        self.batch = batch
        self.linger = linger_ms / 1000
        self.window = window
        self.on_batch = on_batch
        #: Told the earliest day (Asia/Shanghai) of the events of each batch written: what
        #: keeps indicators of past days (the evaluator's IndicatorHistory) drops them from
        #: that day on, so a backfill or an import of history is judged at once.
        self.revised: list[Callable[[dt.date], None]] = []
        #: Told the persons (pseudonyms) of each batch written, before the batch counts as
        #: projected: what keeps the case worklist (projections.worklist) writes them again.
        self.touched: list[Callable[[set[str]], None]] = []
        # Test hook: exit the process right after the N-th write-ahead row (0 = never), so
        # tests prove the replay path (EAMS_TEST_CRASH_AFTER_WAL).
        self.crash_after_wal = crash_after_wal
        self.stats = ProjectorStats()
        self.bounds: dict[str, int] = dict(DEFAULT_BOUNDS)
        self._ids: dict[int, RecentIds] = {}
        self._pending: dict[int, _Pending] = {}
        self._replays: list[Replay] = []
        self._wal_rows = 0
        self._retry_lock = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self.changed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set; flushes what is buffered before returning."""
        self._stop = stop
        positions = await self._retrying(run, read_positions, self.store, self.topics.events)
        self._replays, resume = replays(positions)
        self.bounds = await self._retrying(run, read_bounds, self.store)
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        await consumer.start()
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
            replayed = {p: r.ranges[p][0] for r in self._replays for p in r.ranges}
            for tp in tps:
                # where to read from: the first offset of a batch to insert again, else
                # after the partition's last (complete) batch, else the beginning
                begin = replayed.get(tp.partition, resume.get(tp.partition))
                if begin is not None:
                    consumer.seek(tp, begin)
                else:
                    await consumer.seek_to_beginning(tp)
                    begin = 0
                self.stats.positions[tp.partition] = begin
                self._pending[tp.partition] = _Pending()
                self._ids[tp.partition] = await self._retrying(
                    run, seed_ids, self.store, tp.partition, begin, self.window // max(1, len(tps))
                )
            self.stats.note_progress()  # an empty log is caught up at once
            await self._loop(consumer, tps, stop)
        finally:
            await consumer.stop()

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
            await self._maybe_flush(now, force=False)
        await self._maybe_flush(time.monotonic(), force=True)

    async def _maybe_flush(self, now: float, *, force: bool) -> None:
        """Write the batches due: first the batches to insert again (each once all its
        ranges are read), then new ones: when ``batch`` events wait, when the oldest has
        waited ``linger``, or (``force``) whatever waits."""
        while self._replays:
            replay = self._replays[0]
            cuts: dict[int, int] = {}
            for p, (_, last) in replay.ranges.items():
                records = self._pending[p].records
                cut = _count_upto(records, last)
                if cut == len(records) and (not records or records[-1].offset < last):
                    return  # the range is not fully read yet
                cuts[p] = cut
            chunks = {p: self._take(p, cut, now) for p, cut in cuts.items()}
            await self._write(chunks, token=replay.token)
            self._replays.pop(0)
        while True:
            waiting = {p: pending for p, pending in self._pending.items() if pending.records}
            if not waiting:
                return
            total = sum(len(pending.records) for pending in waiting.values())
            oldest = min(pending.since for pending in waiting.values())
            if not (total >= self.batch or force or now - oldest >= self.linger):
                return
            # a fair share of the batch for each partition, then what is left of it in order
            share = self.batch // len(waiting)
            counts = {p: min(share, len(pending.records)) for p, pending in waiting.items()}
            room = self.batch - sum(counts.values())
            for p, pending in sorted(waiting.items()):
                more = min(room, len(pending.records) - counts[p])
                counts[p] += more
                room -= more
            chunks = {p: self._take(p, n, now) for p, n in sorted(counts.items())}
            await self._write(chunks, token=None)

    def _take(self, partition: int, n: int, now: float) -> list[ConsumerRecord[bytes, bytes]]:
        """The first ``n`` waiting records of ``partition`` (the rest wait on from ``now``)."""
        pending = self._pending[partition]
        chunk, pending.records = pending.records[:n], pending.records[n:]
        pending.since = now
        return chunk

    def _convert(
        self, chunks: dict[int, list[ConsumerRecord[bytes, bytes]]]
    ) -> tuple[
        list[tuple[Any, ...]],
        dict[int, int],
        list[tuple[ConsumerRecord[bytes, bytes], EventRejectedError]],
        int,
    ]:
        """Rows of the new events of a batch, how many of them each partition gave, the
        documents to park, and how many duplicates were dropped (in order within each
        partition: the dedupe window is per partition)."""
        rows: list[tuple[Any, ...]] = []
        per_partition: dict[int, int] = {}
        rejected: list[tuple[ConsumerRecord[bytes, bytes], EventRejectedError]] = []
        duplicates = 0
        for partition, chunk in chunks.items():
            ids = self._ids[partition]
            before = len(rows)
            for record in chunk:
                row = self._row(record.value or b"", partition, record.offset)
                if isinstance(row, EventRejectedError):
                    rejected.append((record, row))
                    continue
                if not ids.add(row[0].bytes):
                    duplicates += 1
                    continue
                rows.append(row)
            per_partition[partition] = len(rows) - before
        return rows, per_partition, rejected, duplicates

    async def _write(
        self, chunks: dict[int, list[ConsumerRecord[bytes, bytes]]], *, token: str | None
    ) -> None:
        started = time.perf_counter()
        await self._write_batch(chunks, token=token)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        BATCH_EVENTS.observe(sum(len(chunk) for chunk in chunks.values()))

    async def _write_batch(
        self, chunks: dict[int, list[ConsumerRecord[bytes, bytes]]], *, token: str | None
    ) -> None:
        """Write one batch (``token``: a batch from the write-ahead log, inserted again)."""
        ranges = {p: (chunk[0].offset, chunk[-1].offset) for p, chunk in chunks.items() if chunk}
        replay = token is not None
        token = token or batch_token(ranges)
        bind_batch(self.topics.events, chunks)  # what it logs names the batch
        # Decoding and converting a batch is CPU work: do it off the event loop, so the API,
        # the evaluator and deliveries stay responsive while a large batch is projected.
        rows, per_partition, rejected, duplicates = await run(self._convert, chunks)
        self.stats.duplicates += duplicates
        if not replay:
            await self._retrying(
                run,
                self.store.insert,
                "projection_positions",
                [
                    (NAME, self.topics.events, p, first, last, per_partition.get(p, 0), token)
                    for p, (first, last) in sorted(ranges.items())
                ],
                ("projector", "topic", "partition", "first_offset", "last_offset", "rows", "batch"),
            )
            self._wal_rows += 1
            if self.crash_after_wal and self._wal_rows >= self.crash_after_wal:
                log.error("test hook: exiting between the write-ahead row and the insert")
                os._exit(70)
        else:
            self.stats.replayed_batches += 1
        parked = [
            quarantine.parked_record(
                record.topic,
                record.partition,
                record.offset,
                record.value or b"",
                exc.field,
                str(exc),
            )
            for record, exc in rejected
        ]
        if rows:
            refused = await self._retrying(
                run,
                quarantine.insert_isolating,
                self.store,
                "events",
                rows,
                COLUMNS,
                token,
                _INSERT_SETTINGS,
            )
            if refused:
                self.stats.bisected_batches += 1
                by_offset = {(r.partition, r.offset): r for chunk in chunks.values() for r in chunk}
                for row, exc in refused:
                    record = by_offset[(row[_PARTITION], row[_OFFSET])]
                    with about_event(row[0], row[1]):  # event_id, event_type
                        log.error(
                            "event at %s:%s refused and quarantined: %s",
                            record.partition,
                            record.offset,
                            exc,
                        )
                    parked.append(
                        quarantine.parked_record(
                            record.topic,
                            record.partition,
                            record.offset,
                            record.value or b"",
                            "(insert)",
                            str(exc),
                        )  # fmt: skip
                    )
            rows_written = len(rows) - len(refused)
            if self.touched:
                persons = {row[_PERSON] for row in rows} - {""}
                if persons:
                    for tell in self.touched:
                        tell(persons)
            if self.revised:
                earliest = min(row[_OCCURRED] for row in rows).astimezone(SHANGHAI).date()
                for listener in self.revised:
                    listener(earliest)
        else:
            rows_written = 0
        if parked:
            await self._retrying(run, quarantine.park, self.store, parked)
            self.stats.quarantined += len(parked)
        self.stats.rows += rows_written
        self.stats.batches += 1
        for p, (_, last) in ranges.items():
            self.stats.positions[p] = last + 1
        self.stats.note_progress()
        self._bump()

    def _bump(self) -> None:
        """Tell waiting readers (the console's live stream, tests) the projections changed."""
        self.stats.version += 1
        self.changed.set()
        self.changed = asyncio.Event()
        if self.on_batch is not None:
            self.on_batch(self.stats)

    async def _retrying(self, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await call(*args)``, retried with backoff (0.2 s doubling to 30 s) while the
        store is unreachable; gives up only when the projector is stopping."""
        delay = 0.2
        while True:
            try:
                return await call(*args)
            except StoreUnavailableError as exc:
                self.stats.store_errors += 1
                self.stats.last_store_error = str(exc)[:500]
                log.error("ClickHouse unreachable, retrying in %.1f s: %s", delay, exc)
                if self._stop is not None and self._stop.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def retry_quarantined(
        self, refs: Sequence[str] = (), *, actor: str
    ) -> dict[str, list[dict[str, Any]]]:
        """Project parked events again (``refs`` as ``partition:offset``; none = all
        parked). Each is converted with today's code and schema; one already in ``events``
        (a repeated retry, a duplicate projected since) is marked projected without a write,
        so every event is projected exactly once. Returns what was projected and what is
        still parked, with the reason."""
        async with self._retry_lock:
            self.bounds = await run(read_bounds, self.store)
            parked = await run(quarantine.entries, self.store, refs=refs)
            done: list[dict[str, Any]] = []
            still: list[dict[str, Any]] = []
            for entry in parked:
                outcome = await run(self._retry_one, entry, actor)
                (done if outcome.status == quarantine.PROJECTED else still).append(
                    outcome.summary()
                )
            if done:
                self._bump()
            return {"projected": done, "parked": still}

    def _row(
        self, value: bytes, partition: int, offset: int
    ) -> tuple[Any, ...] | EventRejectedError:
        """The ``events`` row of one record of the log, or why it cannot be projected (one
        odd document must not stop the projection of everything after it)."""
        try:
            doc = orjson.loads(value)
            if not isinstance(doc, dict):
                return EventRejectedError("(body)", "expected a JSON object")
            return to_row(doc, partition, offset, self.reference, self.bounds)
        except orjson.JSONDecodeError as exc:
            return EventRejectedError("(body)", f"not JSON: {exc}")
        except EventRejectedError as exc:
            return exc
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            return EventRejectedError("(body)", f"cannot project: {exc}")

    def _retry_one(self, entry: quarantine.Parked, actor: str) -> quarantine.Parked:
        """Retry one entry (in a worker thread); the new state is written before returning."""
        tried = replace(entry, attempts=entry.attempts + 1)
        row = self._row(entry.value, entry.partition, entry.offset)
        if isinstance(row, EventRejectedError):
            tried = replace(tried, field=row.field, error=str(row))
        else:
            refused: list[Any] = []
            if not quarantine.projected_already(self.store, str(row[0]), row[1], row[5]):
                refused = quarantine.insert_isolating(
                    self.store,
                    "events",
                    [row],
                    COLUMNS,
                    f"quarantine:{entry.partition}:{entry.offset}:{tried.attempts}",
                    _INSERT_SETTINGS,
                )
            if refused:
                tried = replace(tried, field="(insert)", error=str(refused[0][1]))
            else:
                tried = replace(tried, status=quarantine.PROJECTED)
                ids = self._ids.get(entry.partition)
                if ids is not None:
                    ids.add(row[0].bytes)
        quarantine.park(self.store, [tried], by=actor)
        return tried


def _count_upto(records: list[ConsumerRecord[bytes, bytes]], last: int) -> int:
    """How many leading records have an offset <= ``last``."""
    n = 0
    for record in records:
        if record.offset > last:
            break
        n += 1
    return n

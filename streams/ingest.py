"""The ingest stream: ``<ns>.ingest.raw`` -> ``<ns>.events`` | ``<ns>.events.dlq``.

Per batch of raw messages, in this order (the order is what makes it safe):

1. verify each record's principal signature (:mod:`streams.principal`; unsigned records were
   not written by the API or the importer and are dead-lettered), then parse, validate,
   check it against its principal and pseudonymise it (:mod:`streams.pipeline`);
2. dedupe by ``event_id`` against the dedupe state, which records *where* an id was first
   seen (raw ``partition:offset``); new ids are marked;
3. produce the accepted events (keyed by aggregate id; the event id and its mark ride along
   as headers) and the dead letters (original bytes, reason in headers);
4. flush the producer: every output of the batch is acknowledged by the broker;
5. commit the raw offsets of the batch.

A crash anywhere before 5 re-reads the batch. An input whose mark equals its own position
is the *same* message being re-read, so it is emitted again rather than dropped: nothing is
lost, and the event log may hold an event twice, which every consumer absorbs by
``event_id``. An input whose id is marked at another position is a resubmission: dropped.

The dedupe state is restored from ``<ns>.events`` itself (the marks in its headers): the
log is the changelog, so a mark can never be recorded for an event that was not appended,
nor the other way round. At start the most recent ``window`` events are read; after that
each catch-up reads only what was appended since the previous one (at most the window).

Ingest processes share the raw partitions in the consumer group ``<ns>.ingest``; a second
process takes over partitions (or all of them, when the first dies) without loss. Raw
records are keyed by their event id in one canonical spelling (``raw_key`` in
:mod:`streams.pipeline`), so every submission of an id lands on one raw partition, and its
mark names that partition: the marks a partition's owner needs are the ones naming it, and
they were written to the log by whoever owned the partition before. A rebalance goes:

1. *revoke* (aiokafka calls it before every join, with nothing before the first): wait for
   the batch in hand to finish steps 4 and 5 (its outputs flushed, then its offsets
   committed), then give the partitions up. Records fetched and not yet returned are
   dropped by aiokafka, and the next owner reads them again from the committed offsets;
2. the group coordinator assigns the partitions once every member has rejoined, that is,
   once every previous owner has flushed and committed: everything it wrote is in the log;
3. *assign*: before the first record of the new assignment is processed, the stream
   catches up with the log (every partition of it, from where it last read up to its end
   now), so the marks the previous owners appended for the newly assigned partitions are
   known. This runs in the stream's loop, not in aiokafka's callback, which runs with the
   group's heartbeats stopped: a long catch-up there would get this member evicted.

Why that is safe: an offset is committed only after its outputs (step 5 after 4) and a
partition is handed over only after its commit (revoke), so a new owner starts where the
outputs end and knows their marks. A process that dies (SIGKILL) hands over nothing: its
last batch may be in the log without its commit, so the new owner reads it again and emits
it again *with the same marks* (its position is its mark); a resubmission elsewhere in the
partition is still recognised by its earlier mark. A member fenced by the group (too slow
for the session) finds its commit refused (logged, counted); its records are read again in
the same way. No input is lost, and within the dedupe window none is emitted from two
positions.

Keeping the marks of every raw partition (not only the owned ones) lets each catch-up read
the log once, incrementally; an id whose resubmission lands elsewhere (after the raw topic
gained partitions) is then still recognised wherever its mark was read.

Why not a Faust agent here: measured on this machine, Faust's per-event agent did ~2,700
events/s end to end, and after a SIGKILL and restart it dropped messages fetched while its
table recovered and then stalled its commits on the gap (faust-streaming#312, #606). This
loop does the same steps in batches, with the commit order above.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from events.regions import RegionReference
from streams import topics
from streams.context import bind_batch
from streams.dlq import DeadLetterKey, dead_letter_part, dead_letter_record
from streams.errors import RecordRefusedError
from streams.kafka import KafkaAccess
from streams.pipeline import DEFAULT_FUTURE_SKEW, Accepted, Rejected, process_raw, unsigned
from streams.principal import Signer
from streams.producer import REFUSED, BatchSender, new_producer
from streams.topics import TopicNames

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """Counters of the ingest stream, shown by ``/api/status``."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    batches: int = 0
    restored_ids: int = 0  # marks read from the log (at start and at every catch-up)
    unsigned: int = 0  # raw records without a valid principal signature (dead-lettered)
    masked_values: int = 0  # IDs and mobile numbers found outside the named fields
    rebalances: int = 0  # partitions revoked (before every join of the group)
    refused_commits: int = 0  # commits the group refused (it had rebalanced without us)
    partitions: list[int] = field(default_factory=list)  # raw partitions owned now
    by_type: dict[str, int] = field(default_factory=dict)


class DedupeState:
    """Event id -> where it was first seen (``partition:offset`` of the raw topic), bounded."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._marks: OrderedDict[bytes, bytes] = OrderedDict()

    def get(self, event_id: bytes) -> bytes | None:
        """The mark of ``event_id``, if remembered."""
        return self._marks.get(event_id)

    def put(self, event_id: bytes, mark: bytes) -> None:
        """Remember ``event_id`` (evicting the oldest past capacity)."""
        self._marks[event_id] = mark
        self._marks.move_to_end(event_id)
        if len(self._marks) > self.capacity:
            self._marks.popitem(last=False)

    def add(self, event_id: bytes) -> bool:
        """Remember ``event_id`` with no mark; False if it was already there (a duplicate)."""
        if event_id in self._marks:
            return False
        self.put(event_id, b"")
        return True

    def __len__(self) -> int:
        return len(self._marks)


def _header_bytes(headers: object, name: str) -> bytes | None:
    """The raw value of header ``name`` (None when absent)."""
    for key, value in headers or ():  # type: ignore[attr-defined]
        if key == name:
            return bytes(value)
    return None


class IngestStream:
    """Consumes its share of the raw topic's partitions (a member of the group
    ``<ns>.ingest``) and appends valid events to the log."""

    def __init__(
        self,
        *,
        kafka: KafkaAccess,
        topic_names: TopicNames,
        reference: RegionReference,
        secret: bytes,
        signing_key: bytes,
        dlq_key: DeadLetterKey,
        window: int = 2_000_000,
        batch: int = 5000,
        max_future_skew: dt.timedelta = DEFAULT_FUTURE_SKEW,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.reference = reference
        self.secret = secret
        self.signer = Signer(signing_key)
        self.dlq_key = dlq_key  # dead letters are sealed (streams.dlq)
        self.max_future_skew = max_future_skew
        self.batch = batch
        self.group = f"{topic_names.events.rsplit('.', 1)[0]}.ingest"
        self.seen = DedupeState(window)
        self.stats = IngestStats()
        self.ready = asyncio.Event()  # set once the first assignment's catch-up is done
        # Held by the loop from a batch's fetch to its commit; a revocation waits for it.
        self._turn = asyncio.Lock()
        self._catch_up_due = True  # set at every revocation: a new assignment follows
        self._marks_read: dict[int, int] = {}  # events partition -> next offset to read

    async def run(self, stop: asyncio.Event) -> None:
        """Restore the dedupe state, join the group, then process batches until ``stop``."""
        lane = _Lane(self.kafka)
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            group_id=self.group,
            # who owns which partition, as the group's description shows it
            client_id=f"{self.group}-{socket.gethostname()}-{os.getpid()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # A member finishing its batch when a rebalance starts is waited for this long
            # (a dead one only for the session, 10 s): a slow flush is not a reason to fence.
            rebalance_timeout_ms=60_000,
        )
        await lane.start()
        await consumer.start()
        try:
            # The whole window now, before joining: no session to keep alive yet, and the
            # catch-up after the first assignment reads only what came meanwhile.
            await self._catch_up()
            consumer.subscribe([self.topics.ingest_raw], listener=_Rebalance(self))
            while not stop.is_set():
                fetched = await _fetch(consumer, stop, self.batch)
                # No await between the fetch and taking the turn: a revocation cannot start
                # in between (aiokafka returns no records while one is under way).
                async with self._turn:
                    if self._catch_up_due and not stop.is_set():
                        await self._catch_up()  # before any record of the new assignment
                        self._catch_up_due = False
                        self.ready.set()
                    records = [r for rs in fetched.values() for r in rs]
                    if records:
                        bind_batch(self.topics.ingest_raw, fetched)  # its logs name the batch
                        await self._process(records, lane)
                        await self._commit(consumer, fetched)
        finally:
            await consumer.stop()  # leaves the group: the others rebalance at once
            await lane.stop()

    async def _commit(
        self,
        consumer: AIOKafkaConsumer,
        fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        """Step 5. A commit the group refuses (it rebalanced without this member, which was
        too slow for its session) is logged and counted: the outputs are in the log, and
        the partitions' next owner reads the records again and emits them again, with the
        same marks."""
        offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in fetched.items() if rs}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            self.stats.refused_commits += 1
            log.warning(
                "the group %s refused the commit of raw partitions %s (%s): their next owner "
                "reads those records again and emits them again under the same marks",
                self.group,
                sorted(tp.partition for tp in offsets),
                exc,
            )

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Rebalance step 1: the batch in hand is flushed and committed (the loop holds the
        turn until then), then the partitions are given up."""
        async with self._turn:
            self._catch_up_due = True
            self.stats.rebalances += 1
            self.stats.partitions = []
        log.info("ingest: raw partitions %s given up", sorted(tp.partition for tp in partitions))

    def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        """Rebalance step 3: the loop catches up with the log before processing them.

        Runs in aiokafka's callback, with the heartbeats stopped: it only takes note."""
        owned = sorted(tp.partition for tp in partitions)
        self._catch_up_due = True
        self.stats.partitions = owned
        log.info("ingest: raw partitions %s assigned", owned)

    async def _send(
        self,
        sender: _Lane,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: tuple[tuple[str, bytes], ...],
        alone: bool,
    ) -> str | None:
        """Queue one record (and, ``alone``, wait for it); the reason if it is refused."""
        try:
            future = await sender.add(topic, value, key, headers)
            if alone:
                await sender.flush([future])
        except REFUSED as exc:
            if not isinstance(exc, RecordRefusedError):
                # the broker refused a batch: an idempotent producer's sequence is broken
                # past it (every later batch would fail OutOfOrderSequenceNumber): renew it
                await sender.reset()
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None

    async def _dead_letter(
        self,
        sender: _Lane,
        r: ConsumerRecord[bytes, bytes],
        result: Rejected,
        source: str,
        line: str | None,
        alone: bool,
    ) -> None:
        """Send the input to the dead-letter topic; one the topic refuses whole is kept as
        its first ``STUB_BYTES``, its size and digest (the source still has it)."""
        value = r.value or b""
        origin = f"{r.topic}:{r.partition}:{r.offset}"
        dead = dead_letter_record(
            self.dlq_key,
            value,
            reason=result.reason,
            field=result.field,
            source=source,
            origin=origin,
            line=line,
        )
        refused = await self._send(
            sender, self.topics.dlq, dead.value, dead.key, tuple(dead.headers), alone
        )
        if refused is None:
            return
        stub = dead_letter_part(
            self.dlq_key,
            value,
            reason=f"{result.reason} [the dead-letter topic refused it whole: {refused}]",
            field=result.field,
            source=source,
            origin=origin,
            line=line,
        )
        # A stub the topic refuses too is a broker misconfiguration: raise (and stop).
        future = await sender.add(self.topics.dlq, stub.value, stub.key, tuple(stub.headers))
        if alone:
            await sender.flush([future])

    async def _catch_up(self) -> None:
        """Read the marks appended to the log since the last catch-up (at most the most
        recent ``window`` events), from every partition of the log up to its end now."""
        consumer = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001
            tps = [
                TopicPartition(self.topics.events, p)
                for p in cluster.partitions_for_topic(self.topics.events) or ()
            ]
            if not tps:
                return
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            per_partition = max(1, self.seen.capacity // len(tps))
            remaining = set()
            for tp in tps:
                done = self._marks_read.get(tp.partition, 0)
                begin = max(starts[tp], ends[tp] - per_partition, done)
                if begin < ends[tp]:
                    consumer.seek(tp, begin)
                    remaining.add(tp)
            read = 0
            while remaining:
                fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=50_000)
                for tp, records in fetched.items():
                    for r in records:
                        event_id = _header_bytes(r.headers, topics.H_EVENT_ID)
                        mark = _header_bytes(r.headers, topics.H_RAW_MARK)
                        if event_id is not None and mark is not None:
                            self.seen.put(event_id, mark)
                            read += 1
                    if records:
                        last = records[-1].offset + 1
                        self._marks_read[tp.partition] = last
                        if last >= ends[tp]:
                            remaining.discard(tp)
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
            for tp in tps:  # a partition with nothing new, or whose tail held no marks
                done = self._marks_read.get(tp.partition, 0)
                self._marks_read[tp.partition] = max(done, ends[tp])
            self.stats.restored_ids += read
        finally:
            await consumer.stop()

    async def _process(self, records: list[ConsumerRecord[bytes, bytes]], sender: _Lane) -> None:
        """One batch: every output on the broker before the caller commits the offsets.

        A record the broker (or the client) will never take as it is (too large, …) must not
        stop ingest: a restart would only meet it again. When the batch's flush is refused,
        the batch is sent again one record at a time; what is refused on its own goes to the
        dead-letter topic with the broker's reason, the rest is emitted (again: its marks are
        its own position, so consumers absorb the repeat by event id).
        """
        before = replace(self.stats, by_type=dict(self.stats.by_type))
        try:
            await self._pass(records, sender, alone=False)
        except REFUSED as exc:
            log.error(
                "the broker refused a record of a batch (%s); sending it record by record "
                "and dead-lettering what it refuses",
                exc,
            )
            # the counters as before the batch, but the membership as it is now (an
            # assignment may have been noted meanwhile)
            self.stats = replace(before, partitions=self.stats.partitions)
            await sender.reset()  # see _send: the producer's sequence is broken past a refusal
            await self._pass(records, sender, alone=True)
        self.stats.batches += 1

    async def _pass(
        self, records: list[ConsumerRecord[bytes, bytes]], sender: _Lane, *, alone: bool
    ) -> None:
        for r in records:
            value = r.value or b""
            source = topics.header(r.headers, topics.H_SOURCE) or "unknown"
            line = topics.header(r.headers, topics.H_LINE)
            line_no = int(line) if line and line.isdigit() else None
            # Only what the API or the importer signed is ingested, and it is checked again
            # against the principal it was signed for (the same check the API answered with).
            principal = self.signer.verify(value, r.headers)
            if principal is None:
                self.stats.unsigned += 1
                result: Accepted | Rejected = unsigned(line_no)
            else:
                result = process_raw(
                    value,
                    reference=self.reference,
                    secret=self.secret,
                    line=line_no,
                    principal=principal,
                    max_future_skew=self.max_future_skew,
                )
            if isinstance(result, Accepted):
                mark = f"{r.partition}:{r.offset}".encode()
                event_id = result.event_id.bytes
                first = self.seen.get(event_id)
                if first is not None and first != mark:
                    self.stats.duplicates += 1
                    continue
                if first is None:
                    self.seen.put(event_id, mark)
                headers = ((topics.H_EVENT_ID, event_id), (topics.H_RAW_MARK, mark))
                refused = await self._send(
                    sender, self.topics.events, result.value, result.key, headers, alone
                )
                if refused is None:
                    self.stats.accepted += 1
                    self.stats.masked_values += result.masked
                    by_type = self.stats.by_type
                    by_type[result.event_type] = by_type.get(result.event_type, 0) + 1
                    continue
                result = Rejected(
                    field="(event)",
                    reason=f"the event log refused the event ({refused}); it is kept here: "
                    "fix the input and replay it",
                )
            self.stats.rejected += 1
            await self._dead_letter(sender, r, result, source, line, alone)
        # Every output of the batch must be on the broker before its offsets are committed.
        await sender.flush()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's rebalance callbacks, handed to the stream (see the module docstring)."""

    def __init__(self, stream: IngestStream) -> None:
        self.stream = stream

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.stream.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.stream.assigned(assigned)


async def _fetch(
    consumer: AIOKafkaConsumer, stop: asyncio.Event, batch: int
) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    """The next records (at most ``batch``), or none once ``stop`` is set: ``getmany``
    waits through a whole rebalance, and a stop must not wait for one to end. Records
    already taken from aiokafka are never dropped here (the consumer's position is past
    them): a fetch cancelled by the stop had taken none."""
    fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=200, max_records=batch))
    halt = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetch, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
    if not fetch.done():
        fetch.cancel()
        await asyncio.wait({fetch})
    if fetch.cancelled():
        return {}
    records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = fetch.result()
    return records


class _Lane:
    """The ingest stream's producer and batch sender, renewable after a refusal."""

    def __init__(self, kafka: KafkaAccess) -> None:
        self.kafka = kafka
        self._producer: AIOKafkaProducer | None = None
        self._sender: BatchSender | None = None

    async def start(self) -> None:
        """Start a new idempotent producer (a new producer id: its sequences start afresh)."""
        producer = new_producer(self.kafka)
        await producer.start()
        self._producer, self._sender = producer, BatchSender(producer)

    async def reset(self) -> None:
        """Replace the producer; the old one is stopped once the new one runs."""
        old = self._producer
        await self.start()
        if old is not None:
            await old.stop()

    async def stop(self) -> None:
        """Stop the producer (after what it holds is sent)."""
        if self._producer is not None:
            await self._producer.stop()

    async def add(
        self, topic: str, value: bytes, key: bytes | None, headers: tuple[tuple[str, bytes], ...]
    ) -> asyncio.Future[None]:
        """:meth:`BatchSender.add` of the current producer."""
        assert self._sender is not None
        return await self._sender.add(topic, value, key, headers)

    async def flush(self, records: list[asyncio.Future[None]] | None = None) -> None:
        """:meth:`BatchSender.flush` of the current producer."""
        assert self._sender is not None
        await self._sender.flush(records)

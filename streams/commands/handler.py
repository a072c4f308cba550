"""The command handler: one writer per aggregate in the consumer group of
``<ns>.commands``; the order it keeps is in :mod:`streams.commands`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from prometheus_client import Counter
from pydantic import ValidationError

from events.clock import now
from events.commands import Aggregate, Change, Command, Folded, Outcome, event_id_for
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from events.regions import RegionReference
from streams.commands.clients import bounded, partitions
from streams.context import deciding
from streams.errors import CommandLayoutError
from streams.kafka import KafkaAccess
from streams.pipeline import in_regions
from streams.producer import new_producer
from streams.topics import TopicNames

log = logging.getLogger(__name__)

__all__ = ["APPEND_TIMEOUT", "CommandHandler", "HandlerStats"]

#: A decision: the outcome, the events to append and the state after them (None: unchanged).
_Decided = tuple[Outcome, list[Envelope], Folded | None]

#: Seconds the handler waits for the broker to take a batch's events before it retries.
APPEND_TIMEOUT = 15.0
_TYPE_MARK = b'"event_type":"'


def _type_of(value: bytes) -> str | None:
    """The event type of an event record (``alert.raised``) without parsing the whole JSON:
    the envelope writes ``event_type`` near the start."""
    at = value.find(_TYPE_MARK, 0, 256)
    if at < 0:
        return None
    start = at + len(_TYPE_MARK)
    end = value.find(b'"', start, start + 80)
    return value[start:end].decode("ascii", "replace") if end > 0 else None


#: Commands decided by this process: by type and outcome (``accepted``, ``duplicate``, or
#: the refusal's code: ``invalid``, ``conflict``, ``not_found``, ``forbidden`` …).
COMMANDS = Counter(
    "eams_commands_total", "Commands decided, by type and outcome", ["command_type", "outcome"]
)


@dataclasses.dataclass
class HandlerStats:
    """What ``/api/status`` shows of one command handler."""

    partitions: list[int] = dataclasses.field(default_factory=list)
    aggregates: int = 0
    folded_events: int = 0
    skipped_own: int = 0  # events of its own decisions read back and skipped unparsed
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    batches: int = 0  # batches decided and committed (monotonic: tests wait on it)
    failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, handler: CommandHandler) -> None:
        self.handler = handler

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.handler.release({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.handler.restore({tp.partition for tp in assigned})


class CommandHandler:
    """Decides the commands of the aggregates whose keys fall on its partitions."""

    def __init__(
        self,
        kafka: KafkaAccess,
        topic_names: TopicNames,
        aggregates: Sequence[Aggregate[Any]],
        reference: RegionReference,
        *,
        group: str | None = None,
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.aggregates: dict[str, Aggregate[Any]] = {a.kind: a for a in aggregates}
        # an aggregate folds event types of several prefixes (a person's case folds visit.*,
        # plan.* …): each event type belongs to one aggregate kind
        self._by_type: dict[str, Aggregate[Any]] = {}
        for aggregate in aggregates:
            for event_type in aggregate.event_types:
                other = self._by_type.setdefault(event_type, aggregate)
                if other is not aggregate:
                    raise CommandLayoutError(
                        f"{event_type} is folded by both {other.kind} and {aggregate.kind}: "
                        "an event type belongs to one aggregate kind"
                    )
        self.reference = reference
        self.group = group or f"{topic_names.events.removesuffix('.events')}.commands"
        self.clock = clock
        self.stats = HandlerStats()
        self._states: dict[int, dict[tuple[str, str], Folded]] = {}
        self._lock = asyncio.Lock()  # a batch in hand finishes before a rebalance goes on
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None  # catches up with other writers' events
        self._positions: dict[int, int] = {}  # events partition -> next offset to fold
        # events partition -> offsets of this handler's own adopted decisions not yet read
        # back: a catch-up skips them unparsed (they were applied when decided)
        self._own: dict[int, set[int]] = {}
        self.ready = asyncio.Event()  # set once a first assignment has been folded

    def status(self) -> dict[str, Any]:
        return self.stats.as_dict()

    # -- the loop ------------------------------------------------------------------------

    async def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Run the handler as a task until ``stop``; return it once the first partitions are
        folded (or the task ended: awaiting it then says why)."""
        task = asyncio.create_task(self.run(stop), name="commands")
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        return task

    async def run(self, stop: asyncio.Event) -> None:
        """Handle commands until ``stop`` is set (the last batch is committed first)."""
        self._producer = new_producer(self.kafka)
        await self._producer.start()
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            group_id=self.group,
            # names the process, so the group's description shows who owns what
            client_id=f"{self.group}-{socket.gethostname()}-{os.getpid()}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._reader = _reader(self.kafka)
        await self._reader.start()
        try:
            await self._check_layout(consumer)
            consumer.subscribe([self.topics.commands], listener=_Listener(self))
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if batch:
                    await self._handle_batch(consumer, batch)
        finally:
            await bounded(consumer.stop())  # leaves the group: its partitions move at once
            await bounded(self._producer.stop())
            reader, self._reader = self._reader, None
            await bounded(reader.stop())

    async def _check_layout(self, consumer: AIOKafkaConsumer) -> None:
        commands = await partitions(consumer, self.topics.commands)
        events = await partitions(consumer, self.topics.events)
        if commands != events:
            raise CommandLayoutError(
                f"{self.topics.commands} has {len(commands)} partitions and "
                f"{self.topics.events} {len(events)}: a command handler folds an aggregate from "
                "the event partition of its commands' number, so they must match; add "
                f"partitions to {self.topics.commands} with kafka-topics --alter"
            )

    async def _handle_batch(
        self,
        consumer: AIOKafkaConsumer,
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        """One fetch, every partition in it at once: one catch-up read over them, their
        decisions' events awaited together, one reply, one commit (each partition paid these
        waits in turn before, and a command waited for the partitions ahead of its own)."""
        async with self._lock:
            # a partition revoked while fetched: the next owner decides its commands
            work = {tp: rs for tp, rs in batch.items() if rs and tp.partition in self._states}
            if not work:
                return
            try:
                await self._catch_up([tp.partition for tp in work])
                decided = await self._decide_and_append(work)
            except Exception:
                # nothing adopted, nothing committed: decide the batch again (same ids)
                self.stats.failures += 1
                log.exception(
                    "command batch on partitions %s failed; retrying",
                    sorted(tp.partition for tp in work),
                )
                for tp, records in work.items():
                    consumer.seek(tp, records[0].offset)
                await asyncio.sleep(1.0)
                return
            outcomes: list[Outcome] = []
            for partition, (decisions, adopt, appended) in decided.items():
                self._states[partition].update(adopt)
                self._own.setdefault(partition, set()).update(appended)
                outcomes += decisions
            self.stats.aggregates = sum(len(s) for s in self._states.values())
            await self._reply(outcomes)
            await consumer.commit(
                {tp: OffsetAndMetadata(records[-1].offset + 1, "") for tp, records in work.items()}
            )
            self.stats.batches += 1

    async def _decide_and_append(
        self, work: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[int, tuple[list[Outcome], dict[tuple[str, str], Folded], list[int]]]:
        """Steps 2 and 3 for each partition of a batch: the outcomes, the states to adopt
        and the offsets its events got in the events partition."""
        assert self._producer is not None
        decided: dict[int, tuple[list[Outcome], dict[tuple[str, str], Folded], list[int]]] = {}
        sends: list[asyncio.Future[Any]] = []
        for tp, records in work.items():
            states = self._states[tp.partition]
            staged: dict[tuple[str, str], Folded] = {}
            outcomes: list[Outcome] = []
            decided[tp.partition] = (outcomes, staged, [])
            for record in records:
                command = _parse(record)
                if command is None:
                    continue
                key = (command.kind, command.aggregate_id)
                aggregate = self.aggregates.get(command.kind)
                if aggregate is None:
                    outcomes.append(_rejected(command, 0, "invalid", self._unknown_kind(command)))
                    continue
                folded = staged.get(key) or states.get(key)
                if folded is None:
                    folded = Folded(aggregate.initial(command.aggregate_id))
                outcome, envelopes, after = self._decide(aggregate, folded, command)
                outcomes.append(outcome)
                if after is not None:
                    staged[key] = after
                for envelope in envelopes:
                    sends.append(
                        await self._producer.send(
                            self.topics.events,
                            envelope.to_json(),
                            key=command.aggregate_id.encode(),
                        )
                    )
        if sends:  # bounded: a batch waiting on a broker that is away is retried instead
            for meta in await asyncio.wait_for(asyncio.gather(*sends), APPEND_TIMEOUT):
                if meta.partition in decided:  # (the same key: the same partition number)
                    decided[meta.partition][2].append(meta.offset)
        return decided

    @deciding  # its records carry the command's ids; each decision is logged (INFO)
    def _decide(self, aggregate: Aggregate[Any], folded: Folded, command: Command) -> _Decided:
        """Decide one command: its outcome, the events to append and the state after them."""
        if command.command_id in folded.commands:
            self.stats.duplicates += 1
            COMMANDS.labels(command.command_type, "duplicate").inc()
            return (
                Outcome(
                    command_id=command.command_id,
                    aggregate_id=command.aggregate_id,
                    accepted=True,
                    version=folded.version,
                    duplicate=True,
                ),
                [],
                None,
            )
        region = aggregate.region_of(folded.state)
        if (
            command.scope
            and region is not None
            and not in_regions(command.scope, region, self.reference)
        ):
            return self._refuse(
                command,
                folded,
                "not_found",
                f"no {command.kind} {command.aggregate_id!r} in your regions",
            )
        if command.expected_version is not None and command.expected_version != folded.version:
            return self._refuse(
                command,
                folded,
                "conflict",
                f"{command.kind} {command.aggregate_id} is at version {folded.version}, not "
                f"{command.expected_version}: it changed since you looked; reload and decide again",
            )
        now = self.clock()
        try:
            changes = aggregate.decide(folded.state, command, now)
            envelopes = [
                self._envelope(command, change, i, region, now) for i, change in enumerate(changes)
            ]
        except CommandRejectedError as exc:
            return self._refuse(command, folded, exc.code, str(exc))
        outside = [
            e.region for e in envelopes if not in_regions(command.scope, e.region, self.reference)
        ]
        if outside:  # a sender limited to some regions creates nothing outside them
            return self._refuse(
                command,
                folded,
                "forbidden",
                f"{command.command_type}: region {outside[0]} is outside your regions; "
                "give a region inside them",
            )
        state = folded.state
        for envelope in envelopes:
            state = aggregate.apply(state, envelope)
        after = Folded(
            state, folded.version + len(envelopes), folded.commands | {command.command_id}
        )
        self.stats.accepted += 1
        COMMANDS.labels(command.command_type, "accepted").inc()
        outcome = Outcome(
            command_id=command.command_id,
            aggregate_id=command.aggregate_id,
            accepted=True,
            version=after.version,
            event_ids=tuple(e.event_id for e in envelopes),
            event_types=tuple(e.event_type for e in envelopes),
            payloads=tuple(e.payload_dict() for e in envelopes),
            decided_at=now,
        )
        return outcome, envelopes, after

    def _refuse(self, command: Command, folded: Folded, code: str, reason: str) -> _Decided:
        self.stats.rejected += 1
        COMMANDS.labels(command.command_type, code).inc()
        return _rejected(command, folded.version, code, reason), [], None

    def _unknown_kind(self, command: Command) -> str:
        self.stats.rejected += 1
        kinds = ", ".join(sorted(self.aggregates))
        return f"{command.command_type}: no aggregate kind {command.kind!r} here (known: {kinds})"

    def _envelope(
        self, command: Command, change: Change, index: int, region: str | None, now: dt.datetime
    ) -> Envelope:
        where = change.region or region
        if where is None:
            raise CommandRejectedError(
                f"{command.command_type}: the first event of {command.aggregate_id} needs a region",
                code="invalid",
            )
        envelope = internal_event(
            change.event_type,
            region=where,
            aggregate_id=command.aggregate_id,
            actor=command.actor,
            source=command.source,
            payload=dict(change.payload),
            event_id=event_id_for(command.command_id, index),
            occurred_at=change.occurred_at or now,
            recorded_at=now,
        )
        return envelope.model_copy(
            update={"causation_id": command.command_id, "correlation_id": command.correlation_id}
        )

    async def _reply(self, outcomes: list[Outcome]) -> None:
        assert self._producer is not None
        sends = [
            await self._producer.send(
                self.topics.outcomes, o.model_dump_json().encode(), key=str(o.command_id).encode()
            )
            for o in outcomes
        ]
        # an outcome lost here is not lost work: the caller's retry is answered as a duplicate
        results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("a command outcome could not be sent: %s", result)

    # -- rebalance -----------------------------------------------------------------------

    async def release(self, partitions: set[int]) -> None:
        """Partitions revoked: after the batch in hand, forget their aggregates."""
        async with self._lock:
            for p in partitions:
                self._states.pop(p, None)
                self._positions.pop(p, None)
                self._own.pop(p, None)
            self.stats.partitions = sorted(self._states)
            self.stats.aggregates = sum(len(s) for s in self._states.values())

    async def restore(self, partitions: set[int]) -> None:
        """Partitions assigned: fold their aggregates from the event log (step 1)."""
        async with self._lock:
            for p in sorted(partitions):
                if p not in self._states:
                    self._states[p] = await self._fold(p)
            self.stats.partitions = sorted(self._states)
            self.stats.aggregates = sum(len(s) for s in self._states.values())
        self.ready.set()

    async def _fold(self, partition: int) -> dict[tuple[str, str], Folded]:
        states: dict[tuple[str, str], Folded] = {}
        self._positions[partition] = 0
        self._own.pop(partition, None)
        await self._read_events({partition: states})
        return states

    async def _catch_up(self, partitions: list[int]) -> None:
        """Fold what other writers appended to these partitions since they were last read
        (ingest writes person events too: an imported registration or lead). Events of this
        handler's own decisions were applied when they were decided and are skipped."""
        await self._read_events({p: self._states[p] for p in partitions})

    async def _read_events(self, states_of: dict[int, dict[tuple[str, str], Folded]]) -> None:
        """Fold the events of each partition of ``states_of`` into its states, from the
        last position read up to the partition's end now (one read over all of them)."""
        tps = {TopicPartition(self.topics.events, p): p for p in states_of}
        consumer = self._reader or _reader(self.kafka)
        shared = consumer is self._reader
        if not shared:
            await consumer.start()
        try:
            consumer.assign(list(tps))
            ends = await consumer.end_offsets(list(tps))
            begins = await consumer.beginning_offsets(list(tps))
            pending: list[TopicPartition] = []
            for tp, p in tps.items():
                start = max(self._positions.get(p, 0), begins[tp])
                if start >= ends[tp]:
                    self._positions[p] = ends[tp]
                    continue
                # an explicit offset: seek_to_beginning right after assign can lose to the
                # assignment's own reset to the end
                consumer.seek(tp, start)
                pending.append(tp)
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
                for tp, records in batch.items():
                    p, end = tps[tp], ends[tp]
                    states, own = states_of[p], self._own.get(p, set())
                    for record in records:
                        if record.offset >= end or record.value is None:
                            continue
                        if record.offset in own:  # decided here and applied then: not parsed
                            own.discard(record.offset)
                            self.stats.skipped_own += 1
                            continue
                        self._fold_one(states, record.value)
                left: list[TopicPartition] = []
                for tp in pending:
                    if await consumer.position(tp) < ends[tp]:
                        left.append(tp)
                        continue
                    p = tps[tp]
                    self._positions[p] = ends[tp]
                    mine = self._own.get(p)
                    if mine:  # read past: none of them can come again
                        mine.difference_update([o for o in mine if o < ends[tp]])
                pending = left
        finally:
            if shared:  # nothing assigned between catch-ups: no fetch waits on the broker
                consumer.unsubscribe()
            else:
                await consumer.stop()

    def _fold_one(self, states: dict[tuple[str, str], Folded], value: bytes) -> None:
        event_type = _type_of(value)
        aggregate = self._by_type.get(event_type) if event_type else None
        if aggregate is None:
            return
        try:
            envelope = Envelope.model_validate_json(value)
        except ValidationError:
            log.warning("an unreadable %s event in the log was not folded", event_type)
            return
        if envelope.event_type != event_type or envelope.aggregate_id is None:
            return
        key = (aggregate.kind, envelope.aggregate_id)
        folded = states.get(key)
        if folded is None:
            folded = states[key] = Folded(aggregate.initial(envelope.aggregate_id))
        elif envelope.causation_id is not None and envelope.causation_id in folded.commands:
            return  # this handler decided it: applied when it was decided (a catch-up)
        folded.state = aggregate.apply(folded.state, envelope)
        folded.version += 1
        if envelope.causation_id is not None:
            folded.commands.add(envelope.causation_id)
        self.stats.folded_events += 1


def _parse(record: ConsumerRecord[bytes, bytes]) -> Command | None:
    if record.value is None:
        return None
    try:
        return Command.model_validate_json(record.value)
    except ValidationError as exc:
        # only EAMS principals may write here (ACLs): a malformed command is a bug, not input
        log.error("command at offset %s is malformed and skipped: %s", record.offset, exc)
        return None


def _rejected(command: Command, version: int, code: str, reason: str) -> Outcome:
    return Outcome(
        command_id=command.command_id,
        aggregate_id=command.aggregate_id,
        accepted=False,
        version=version,
        code=code,  # type: ignore[arg-type]
        reason=reason,
    )


#: The longest a catch-up read's fetch waits on the broker for records. A broker answers a
#: connection's requests in order, so the ListOffsets of the next catch-up waits behind a
#: fetch still long-polling; with the client's default (500 ms) every command waited about
#: half a second for it.
READER_FETCH_WAIT_MS = 5


def _reader(kafka: KafkaAccess) -> AIOKafkaConsumer:
    """The consumer that reads an events partition up to its end (fold, catch-up)."""
    return AIOKafkaConsumer(
        **kafka.client_options(), enable_auto_commit=False, fetch_max_wait_ms=READER_FETCH_WAIT_MS
    )

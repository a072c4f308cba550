"""Command handling: one writer per aggregate, in a consumer group on ``<ns>.commands``.

Callers send a :class:`~events.commands.Command` with a :class:`CommandBus`, keyed by its
aggregate id, and wait for its :class:`~events.commands.Outcome` on
``<ns>.commands.outcomes``. A :class:`CommandHandler` owns some partitions of the command
topic (the group balances them over every handler running), and so every aggregate whose
key falls there. ``<ns>.events`` has as many partitions and the same keys, so the events of
those aggregates are on the partitions of the same numbers.

When partitions are assigned, before any of their commands is decided:

1. fold the state of every aggregate of a handled kind from the same partition of
   ``<ns>.events``, from its start to its end at that moment (the command ids of the
   events' ``causation_id`` are remembered);

then, per batch of commands of one partition, in this order:

2. decide each command against its aggregate's state (a command id seen before is answered
   as a duplicate; an ``expected_version`` that is not the aggregate's version, or a sender
   whose regions do not contain the aggregate, is refused); the accepted events are applied
   to a copy of the states;
3. append the events (ids derived from the command id) and wait until the broker has them;
4. adopt the new states, then send every outcome;
5. commit the batch's command offsets.

A crash before 5 decides the batch again after the restart: its commands' ids are then in
the folded state, so they are answered as duplicates and append nothing twice. When
partitions are revoked the batch in hand finishes first (the rebalance waits for it), then
their states are dropped: the next owner folds them from the log, which holds every event
appended before the commit.

The residual window: a handler that stalls past its group session (a zombie) may still
append a batch after its partitions moved. A repeat of the same decision is harmless (the
same event ids), a different one is not; transactional producers (one transactional id per
command partition, readers at read_committed) would fence it and are not used yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from pydantic import ValidationError

from events.clock import SHANGHAI
from events.commands import Aggregate, Change, Command, Folded, Outcome, event_id_for
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from events.regions import RegionReference
from streams.errors import CommandLayoutError, CommandTimeoutError
from streams.kafka import KafkaAccess
from streams.pipeline import in_regions
from streams.producer import new_producer
from streams.topics import TopicNames

__all__ = ["CommandBus", "CommandHandler", "HandlerStats"]

#: A decision: the outcome, the events to append and the state after them (None: unchanged).
_Decided = tuple[Outcome, list[Envelope], Folded | None]

log = logging.getLogger(__name__)

#: Seconds a caller waits for the outcome of a command by default.
DEFAULT_TIMEOUT = 10.0
#: Seconds the handler waits for the broker to take a batch's events before it retries.
APPEND_TIMEOUT = 15.0
_TYPE_MARK = b'"event_type":"'


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def _kind_of(value: bytes) -> str | None:
    """The aggregate kind of an event record (``alert`` of ``alert.raised``) without parsing
    the whole JSON: the envelope writes ``event_type`` near the start."""
    at = value.find(_TYPE_MARK, 0, 256)
    if at < 0:
        return None
    start = at + len(_TYPE_MARK)
    end = value.find(b".", start, start + 40)
    return value[start:end].decode("ascii", "replace") if end > 0 else None


class CommandBus:
    """Sends commands and waits for their outcomes (one per process that issues commands).

    Outcomes of every handler are read from ``<ns>.commands.outcomes`` from the moment the
    bus started; a caller's future is resolved by its command id.
    """

    def __init__(
        self,
        kafka: KafkaAccess,
        topic_names: TopicNames,
        *,
        source: str,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.source = source
        self.timeout = timeout
        self.clock = clock
        self._waiting: dict[uuid.UUID, asyncio.Future[Outcome]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start producing commands and reading outcomes (positioned before any command of
        ours is sent, so no outcome can be missed)."""
        self._producer = new_producer(self.kafka)
        await self._producer.start()
        consumer = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        parts = await _partitions(consumer, self.topics.outcomes)
        if not parts:
            await consumer.stop()
            await self._producer.stop()
            raise CommandLayoutError(
                f"topic {self.topics.outcomes} does not exist; start `eams run` once to "
                "create the namespace's topics"
            )
        tps = [TopicPartition(self.topics.outcomes, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        self._consumer = consumer
        self._reader = asyncio.create_task(self._read(), name="command-outcomes")

    async def stop(self) -> None:
        """Stop reading outcomes; callers still waiting get CommandTimeoutError."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        # with the broker away a client's stop would wait for it: bounded, like a request
        if self._consumer is not None:
            await _bounded(self._consumer.stop())
        if self._producer is not None:
            await _bounded(self._producer.stop())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        outcome = Outcome.model_validate_json(record.value)
                    except ValidationError:
                        log.warning("unreadable command outcome at offset %s", record.offset)
                        continue
                    waiting = self._waiting.pop(outcome.command_id, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(outcome)

    def command(
        self,
        command_type: str,
        aggregate_id: str,
        *,
        actor: str,
        payload: dict[str, Any] | None = None,
        scope: Iterable[str] = (),
        expected_version: int | None = None,
        command_id: uuid.UUID | None = None,
        source: str | None = None,
    ) -> Command:
        """A command of this bus's source, issued now (a new id unless one is given)."""
        return Command(
            command_id=command_id or uuid.uuid4(),
            command_type=command_type,
            aggregate_id=aggregate_id,
            actor=actor,
            source=source or self.source,
            issued_at=self.clock(),
            scope=tuple(scope),
            expected_version=expected_version,
            payload=payload or {},
        )

    async def send(self, command: Command, timeout: float | None = None) -> Outcome:
        """Send ``command`` and return its outcome (accepted or rejected)."""
        assert self._producer is not None, "start() the bus first"
        future = self._waiting.get(command.command_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[command.command_id] = future
        wait = self.timeout if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + wait
        try:
            # the broker may be away: sending counts against the caller's wait too
            await asyncio.wait_for(
                self._producer.send_and_wait(
                    self.topics.commands,
                    command.model_dump_json().encode(),
                    key=command.aggregate_id.encode(),
                ),
                wait,
            )
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            return await asyncio.wait_for(asyncio.shield(future), left)
        except TimeoutError:
            self._waiting.pop(command.command_id, None)
            raise CommandTimeoutError(
                f"no command handler answered {command.command_type} {command.command_id} "
                f"within {wait:g} s; it may still be decided: send it again with the same "
                "command id (harmless), and check `eams status` for the command handlers"
            ) from None

    async def submit(self, command: Command, timeout: float | None = None) -> Outcome:
        """Send ``command``; raise CommandRejectedError (with its code) when it is refused."""
        outcome = await self.send(command, timeout)
        if not outcome.accepted:
            raise CommandRejectedError(outcome.reason or "refused", code=outcome.code or "conflict")
        return outcome


@dataclasses.dataclass
class HandlerStats:
    """What ``/api/status`` shows of one command handler."""

    partitions: list[int] = dataclasses.field(default_factory=list)
    aggregates: int = 0
    folded_events: int = 0
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
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.aggregates: dict[str, Aggregate[Any]] = {a.kind: a for a in aggregates}
        self.reference = reference
        self.group = group or f"{topic_names.events.removesuffix('.events')}.commands"
        self.clock = clock
        self.stats = HandlerStats()
        self._states: dict[int, dict[tuple[str, str], Folded]] = {}
        self._lock = asyncio.Lock()  # a batch in hand finishes before a rebalance goes on
        self._producer: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()  # set once a first assignment has been folded

    def status(self) -> dict[str, Any]:
        return self.stats.as_dict()

    # -- the loop ------------------------------------------------------------------------

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
        try:
            await self._check_layout(consumer)
            consumer.subscribe([self.topics.commands], listener=_Listener(self))
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                for tp, records in batch.items():
                    await self._handle_batch(consumer, tp, records)
        finally:
            await _bounded(consumer.stop())  # leaves the group: its partitions move at once
            await _bounded(self._producer.stop())

    async def _check_layout(self, consumer: AIOKafkaConsumer) -> None:
        commands = await _partitions(consumer, self.topics.commands)
        events = await _partitions(consumer, self.topics.events)
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
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        async with self._lock:
            states = self._states.get(tp.partition)
            if states is None:  # revoked while fetched: the next owner decides them
                return
            try:
                outcomes, adopt = await self._decide_and_append(tp.partition, states, records)
            except Exception:
                # nothing adopted, nothing committed: decide the batch again (same ids)
                self.stats.failures += 1
                log.exception("command batch on partition %s failed; retrying", tp.partition)
                consumer.seek(tp, records[0].offset)
                await asyncio.sleep(1.0)
                return
            states.update(adopt)
            self.stats.aggregates = sum(len(s) for s in self._states.values())
            await self._reply(outcomes)
            await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
            self.stats.batches += 1

    async def _decide_and_append(
        self,
        partition: int,
        states: dict[tuple[str, str], Folded],
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> tuple[list[Outcome], dict[tuple[str, str], Folded]]:
        """Steps 2 and 3 for one batch: the outcomes and the states to adopt."""
        assert self._producer is not None
        staged: dict[tuple[str, str], Folded] = {}
        outcomes: list[Outcome] = []
        sends: list[asyncio.Future[Any]] = []
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
            await asyncio.wait_for(asyncio.gather(*sends), APPEND_TIMEOUT)
        return outcomes, staged

    def _decide(self, aggregate: Aggregate[Any], folded: Folded, command: Command) -> _Decided:
        """Decide one command: its outcome, the events to append and the state after them."""
        if command.command_id in folded.commands:
            self.stats.duplicates += 1
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
        outcome = Outcome(
            command_id=command.command_id,
            aggregate_id=command.aggregate_id,
            accepted=True,
            version=after.version,
            event_ids=tuple(e.event_id for e in envelopes),
            event_types=tuple(e.event_type for e in envelopes),
            payloads=tuple(_payload(e) for e in envelopes),
            decided_at=now,
        )
        return outcome, envelopes, after

    def _refuse(self, command: Command, folded: Folded, code: str, reason: str) -> _Decided:
        self.stats.rejected += 1
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
        tp = TopicPartition(self.topics.events, partition)
        consumer = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            # an explicit offset: seek_to_beginning right after assign can lose to the
            # assignment's own reset to the end
            consumer.seek(tp, (await consumer.beginning_offsets([tp]))[tp])
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                for record in batch.get(tp, []):
                    if record.offset >= end or record.value is None:
                        continue
                    self._fold_one(states, record.value)
        finally:
            await consumer.stop()
        return states

    def _fold_one(self, states: dict[tuple[str, str], Folded], value: bytes) -> None:
        kind = _kind_of(value)
        aggregate = self.aggregates.get(kind) if kind else None
        if aggregate is None:
            return
        try:
            envelope = Envelope.model_validate_json(value)
        except ValidationError:
            log.warning("an unreadable %s event in the log was not folded", kind)
            return
        if envelope.event_type not in aggregate.event_types or envelope.aggregate_id is None:
            return
        key = (aggregate.kind, envelope.aggregate_id)
        folded = states.get(key)
        if folded is None:
            folded = states[key] = Folded(aggregate.initial(envelope.aggregate_id))
        folded.state = aggregate.apply(folded.state, envelope)
        folded.version += 1
        if envelope.causation_id is not None:
            folded.commands.add(envelope.causation_id)
        self.stats.folded_events += 1


def _payload(envelope: Envelope) -> dict[str, Any]:
    """An appended event's payload as the log holds it (personal data masked)."""
    p = envelope.payload
    return p.model_dump(mode="json", exclude_none=True) if not isinstance(p, dict) else dict(p)


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


#: Seconds a client's stop may take (it commits, leaves its group, flushes) before it is
#: given up: with the broker away it would wait for the broker.
STOP_TIMEOUT = 5.0


async def _bounded(stopping: Awaitable[Any]) -> None:
    try:
        await asyncio.wait_for(stopping, STOP_TIMEOUT)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("a Kafka client did not stop cleanly within %g s: %s", STOP_TIMEOUT, exc)
    except asyncio.CancelledError:
        # aiokafka's fetcher re-raises the cancellation of its own fetch task from stop();
        # only a cancellation of the caller itself goes on
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("a Kafka client's stop ended with its own task cancelled")


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
    return set(parts or ())

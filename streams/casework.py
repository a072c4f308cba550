"""The casework reactor: what case management does by itself, from the log and the calendar.

It reads ``<ns>.events`` in the consumer group ``<ns>.casework`` and, for each event, sends
the commands :class:`cases.reactions.CaseworkView` says follow from it (a household told of
its member's work, members told their household is zero-employment, an imported person
judged again); on each tick it sends what falls due that day (overdue households
escalated, expired recognitions judged again). Per batch of one partition, in this order:

1. when the partition was just assigned: fold its events from the start up to the
   committed offset into the view, without reacting (what they caused was sent before);
2. apply each record of the batch to the view and collect its reactions;
3. send them and wait for every outcome (an accepted, refused or duplicate answer all
   count as decided; a refusal is logged and counted: it is the case's answer);
4. commit the batch's offsets.

A crash before 4 reacts to the batch again after the restart: every reaction's command id
is derived from the event that caused it, so the handler answers the repeats as duplicates
and nothing is decided twice. A batch whose commands get no answer (no handler running) is
not committed: it is retried after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from pydantic import ValidationError

from cases.reactions import CaseworkView, Reaction
from events.clock import SHANGHAI, now
from events.envelope import Envelope
from streams.commands.bus import CommandBus
from streams.commands.clients import bounded
from streams.context import about_event, bind_batch
from streams.errors import CommandTimeoutError
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

log = logging.getLogger(__name__)

__all__ = ["CaseworkReactor", "CaseworkStats"]

ACTOR = "eams.casework"


@dataclasses.dataclass
class CaseworkStats:
    """What ``/api/status`` shows of the reactor (``batches`` and ``ticks`` only grow: tests
    wait on them)."""

    batches: int = 0
    ticks: int = 0
    folded: int = 0
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    duplicates: int = 0
    retries: int = 0
    passed_over: int = 0  # events whose reactions could not be worked out (logged)
    last_refusal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, reactor: CaseworkReactor) -> None:
        self.reactor = reactor

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.reactor.lock:  # the batch in hand is committed first
            self.reactor.folding -= {tp.partition for tp in revoked}

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.reactor.folding |= {tp.partition for tp in assigned}


def _envelope(record: ConsumerRecord[bytes, bytes], wanted: tuple[bytes, ...]) -> Envelope | None:
    value = record.value
    if value is None or not any(t in value[:200] for t in wanted):
        return None
    try:
        return Envelope.model_validate_json(value)
    except ValidationError:
        log.warning("an unreadable event at offset %s was passed over", record.offset)
        return None


class CaseworkReactor:
    """Sends the commands casework does by itself; see the module docstring for the order."""

    def __init__(
        self,
        kafka: KafkaAccess,
        topic_names: TopicNames,
        view: CaseworkView,
        commands: CommandBus,
        *,
        interval: float = 60.0,
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.view = view
        self.commands = commands
        self.interval = interval
        self.clock = clock
        self.group = f"{topic_names.events.removesuffix('.events')}.casework"
        self.stats = CaseworkStats()
        self.lock = asyncio.Lock()
        self.folding: set[int] = set()  # assigned partitions whose history is not folded yet
        self.wanted = tuple(f'"event_type":"{t}'.encode() for t in view.prefixes)

    def status(self) -> dict[str, Any]:
        return self.stats.as_dict()

    async def run(self, stop: asyncio.Event) -> None:
        """React until ``stop`` is set (the batch in hand is committed first)."""
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        ticker = asyncio.create_task(self._tick_loop(stop), name="casework-ticks")
        try:
            consumer.subscribe([self.topics.events], listener=_Listener(self))
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batch.items():
                    await self._handle(consumer, tp, records)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await bounded(consumer.stop())

    async def _handle(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        async with self.lock:
            bind_batch(self.topics.events, {tp: records})
            if tp.partition in self.folding:
                await self._fold_history(consumer, tp)
                self.folding.discard(tp.partition)
            reactions: list[Reaction] = []
            for record in records:
                envelope = _envelope(record, self.wanted)
                if envelope is None:
                    continue
                try:
                    reactions += self.view.react(envelope)
                except Exception:  # noqa: BLE001 - one event must not stop casework
                    self.stats.passed_over += 1
                    with about_event(envelope.event_id, envelope.event_type):
                        log.exception(
                            "casework passed over %s at offset %s",
                            envelope.event_type,
                            record.offset,
                        )
            if not await self._send(reactions):
                self.stats.retries += 1
                consumer.seek(tp, records[0].offset)  # not committed: the batch is read again
                # applying it again changes nothing; what was reported must be sent again
                self.view.forget_reports()
                await asyncio.sleep(1.0)
                return
            try:
                await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
            except KafkaError as exc:  # a rebalance: the next owner reacts again (same ids)
                log.warning("casework could not commit partition %s: %s", tp.partition, exc)
                return
            self.stats.batches += 1

    async def _fold_history(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        """Step 1: the partition's events before the committed offset, folded without reacting."""
        committed = await consumer.committed(tp) or 0
        if committed == 0:
            return
        reader = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await reader.start()
        try:
            reader.assign([tp])
            reader.seek(tp, (await reader.beginning_offsets([tp]))[tp])
            while await reader.position(tp) < committed:
                batch = await reader.getmany(tp, timeout_ms=500, max_records=5000)
                for record in batch.get(tp, []):
                    if record.offset >= committed:
                        break
                    envelope = _envelope(record, self.wanted)
                    if envelope is not None:
                        self.view.fold(envelope)
                        self.stats.folded += 1
        finally:
            await reader.stop()

    async def _send(self, reactions: list[Reaction]) -> bool:
        """Step 3: send every reaction and wait for its outcome; False when one got none."""
        if not reactions:
            return True
        commands = []
        for r in reactions:
            try:
                commands.append(self.commands.command(
                    r.command_type, r.aggregate_id, actor=ACTOR, payload=r.payload,
                    command_id=r.command_id, source=ACTOR,
                ))  # fmt: skip
            except ValidationError as exc:
                # e.g. a household id a source sent that cannot key an aggregate: nothing
                # can decide it, so it is counted as refused, never retried
                self.stats.refused += 1
                where = ".".join(str(p) for p in exc.errors()[0]["loc"])
                self.stats.last_refusal = f"{r.command_type} {r.aggregate_id[:64]!r}: {where}"
                log.info("casework cannot send %s: %s", r.command_type, exc.errors()[0]["msg"])
        results = await asyncio.gather(
            *(self.commands.send(c) for c in commands), return_exceptions=True
        )
        answered = True
        for command, result in zip(commands, results, strict=True):
            self.stats.sent += 1
            if isinstance(result, CommandTimeoutError):
                answered = False
            elif isinstance(result, BaseException):
                log.warning("casework %s failed: %s", command.command_type, result)
                answered = False
            elif result.duplicate:
                self.stats.duplicates += 1
            elif result.accepted:
                self.stats.accepted += 1
            else:
                self.stats.refused += 1
                self.stats.last_refusal = (
                    f"{command.command_type} {command.aggregate_id}: {result.reason}"
                )
                log.info("casework %s refused: %s", command.command_type, result.reason)
        return answered

    async def tick(self) -> None:
        """Send what falls due today."""
        today = self.clock().astimezone(SHANGHAI).date()
        async with self.lock:
            await self._send(self.view.due(today))
        self.stats.ticks += 1

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the calendar must survive one bad cycle
                log.exception("casework tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

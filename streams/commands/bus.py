"""The command bus: callers send a command keyed by its aggregate id and wait for its
outcome on ``<ns>.commands.outcomes`` (see :mod:`streams.commands`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from events.clock import now
from events.commands import Command, Outcome
from events.errors import CommandRejectedError
from streams.commands.clients import bounded, partitions
from streams.context import CORRELATION
from streams.errors import CommandLayoutError, CommandTimeoutError
from streams.kafka import KafkaAccess
from streams.producer import new_producer
from streams.topics import TopicNames

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TIMEOUT", "CommandBus"]

#: Seconds a caller waits for the outcome of a command by default.
DEFAULT_TIMEOUT = 10.0


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
        clock: Callable[[], dt.datetime] = now,
    ) -> None:
        self.kafka = kafka
        self.topics = topic_names
        self.source = source
        self.timeout = timeout
        self.clock = clock
        self._waiting: dict[uuid.UUID, asyncio.Future[Outcome]] = {}
        #: told of every outcome on the topic, this process's commands or not (the
        #: dispatcher hears silences made anywhere before the projections show them)
        self.listeners: list[Callable[[Outcome], None]] = []
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
        parts = await partitions(consumer, self.topics.outcomes)
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
            await bounded(self._consumer.stop())
        if self._producer is not None:
            await bounded(self._producer.stop())

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
                    for listener in self.listeners:
                        try:
                            listener(outcome)
                        except Exception:  # a listener's bug must not stop the outcomes
                            log.exception("an outcome listener failed")
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
        correlation_id: uuid.UUID | None = None,
    ) -> Command:
        """A command of this bus's source, issued now (a new id unless one is given). Its
        correlation id is ``correlation_id``, else that of the HTTP request being answered
        (:data:`streams.context.CORRELATION`), else none."""
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
            correlation_id=correlation_id or CORRELATION.get(),
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

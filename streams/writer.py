"""The one way a component appends events: :class:`EventWriter`.

The evaluator, the dispatcher and the playbook runtime decide events from their in-memory
state and must not advance that state before the events are in the log: a transient broker
error would otherwise lose an ``alert.raised`` (the state says "firing", the log never
hears of it) until the next restart. Each of them owns one :class:`EventWriter`, which
encodes its events the same way for all of them (:meth:`EventWriter.encode`: the
component's actor and source unless a command names its own actor, the region, the
aggregate key the record is keyed by, and an id derived with ``uuid5`` from a stable name,
so appending the same decision twice is counted once) and holds them until the broker has
them (the outbox guarantees):

1. ``stage(records, then)`` (or ``append(...)`` for one event) holds the encoded events of
   one decision and the function that applies the decision to the component's state;
2. ``flush()`` adds the records not yet in flight to the :class:`~streams.producer.BatchSender`
   and waits (at most ``timeout`` seconds) for their acknowledgements;
3. once every staged record is acknowledged, the ``then`` functions run, in staging order;
4. on a failure nothing is applied, the error is logged (at error level, saying what happens
   next) and counted in :class:`FlushStats` (``/api/status``, ``eams status``); the next
   ``flush()`` sends the *same* records again (same bytes, same event ids: consumers dedupe
   by event id) after an exponential backoff. A record still in flight when a flush times
   out is not sent again but waited for again;
5. a record the broker will never take as it is (larger than a record may be) is handed to
   the ``dead_letter`` hook (the runtime seals it into the dead-letter topic), counted, and
   its decision applies: it must not hold its component forever.

While a writer holds records, its component decides nothing new (``settled()`` is False):
a decision taken on a state that does not yet include the held one would be taken twice.
A user's command appended on its own (``append`` with ``name=None`` and the user as
``actor``, then :meth:`EventWriter.ensure_flushed`) gets a new time-ordered id instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaError

from events.clock import SHANGHAI
from events.commands import Command, Outcome
from events.envelope import internal_event
from streams.commands import CommandBus
from streams.errors import CommandTimeoutError, EventsNotAcknowledgedError, RecordRefusedError
from streams.producer import BatchSender
from streams.topics import TopicNames

log = logging.getLogger(__name__)

__all__ = ["EventWriter", "EventsNotAcknowledgedError", "FlushStats", "Record"]


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One encoded event to append: topic, value and key."""

    topic: str
    value: bytes
    key: bytes


@dataclasses.dataclass
class FlushStats:
    """What ``/api/status`` shows of one component's appends."""

    ticks: int = 0  # cycles completed, their events acknowledged (monotonic)
    flushes: int = 0  # flushes that got every held record acknowledged
    flush_failures: int = 0
    last_flush_error: str | None = None
    last_flush_error_at: str | None = None
    pending_events: int = 0  # decided, not yet acknowledged
    refused_events: int = 0  # events the broker will never take as they are (dead-lettered)
    last_refused: str | None = None
    retry_in: float | None = None  # seconds until the next attempt, while failing

    def as_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready values."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Staged:
    records: list[Record]
    then: Callable[[], None] | None
    futures: list[asyncio.Future[None] | None]


class EventWriter:
    """Appends the events of one component and holds them until the broker has them (see
    the module docstring)."""

    def __init__(
        self,
        sender: BatchSender,
        component: str,
        *,
        topics: TopicNames | None = None,
        namespace: uuid.UUID | None = None,
        actor: str | None = None,
        source: str | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self.sender = sender
        self.component = component
        self.topics = topics
        self.namespace = namespace
        self.actor = actor or f"eams.{component}"
        self.source = source or self.actor
        self.now = now
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = FlushStats()
        self._staged: list[_Staged] = []
        self._commands_held = 0  # commands of a decision sent, their outcomes not all back
        self._failures_in_row = 0
        self._retry_at = 0.0
        self._lock = asyncio.Lock()
        #: Where an event the broker will never take goes (the runtime seals it into the
        #: dead-letter topic); unset, it is only logged and counted.
        self.dead_letter: Callable[[str, Record, str], Awaitable[None]] | None = None

    @property
    def pending(self) -> int:
        """Records decided and not yet acknowledged, and commands without their outcome."""
        return sum(len(s.records) for s in self._staged) + self._commands_held

    def encode(
        self,
        event_type: str,
        *,
        region: str,
        key: str,
        payload: dict[str, Any],
        name: str | None = None,
        actor: str | None = None,
        occurred_at: dt.datetime | None = None,
        recorded_at: dt.datetime | None = None,
    ) -> Record:
        """One event of the component, encoded for the log: aggregate ``key`` (the record is
        keyed by it too), ``actor`` (the component's own unless given), ``occurred_at`` and
        ``recorded_at`` (now unless given), and an id derived from ``name`` in the writer's
        namespace (a new time-ordered id without a name or a namespace)."""
        if self.topics is None:
            raise ValueError(f"{self.component}: an event writer without topics cannot encode")
        now = self.now()
        event_id = None
        if name is not None and self.namespace is not None:
            event_id = uuid.uuid5(self.namespace, name)
        envelope = internal_event(
            event_type,
            region=region,
            aggregate_id=key,
            actor=actor or self.actor,
            source=self.source,
            payload=payload,
            event_id=event_id,
            occurred_at=occurred_at or now,
            recorded_at=recorded_at or now,
        )
        return Record(self.topics.events, envelope.to_json(), key.encode())

    def append(
        self,
        event_type: str,
        *,
        region: str,
        key: str,
        payload: dict[str, Any],
        name: str | None = None,
        actor: str | None = None,
        occurred_at: dt.datetime | None = None,
        then: Callable[[], None] | None = None,
    ) -> Record:
        """Encode one event (:meth:`encode`) and stage it; ``then`` runs once it is in the
        log. Returns the record."""
        record = self.encode(
            event_type,
            region=region,
            key=key,
            payload=payload,
            name=name,
            actor=actor,
            occurred_at=occurred_at,
        )
        self.stage([record], then=then)
        return record

    async def ensure_flushed(self) -> None:
        """Flush at once (the backoff ignored); raise :class:`EventsNotAcknowledgedError`
        unless every staged event is in the log."""
        if not await self.flush(force=True):
            raise self.not_acknowledged()

    def stage(self, records: Sequence[Record], then: Callable[[], None] | None = None) -> None:
        """Hold ``records``; ``then`` runs once they (and every record staged before them)
        are acknowledged. With no records, ``then`` runs at the next successful flush."""
        self._staged.append(_Staged(list(records), then, [None] * len(records)))
        self.stats.pending_events = self.pending

    def status(self) -> dict[str, Any]:
        """The counters, with the time until the next attempt while failing."""
        if self.pending and self._failures_in_row:
            loop = asyncio.get_running_loop()
            self.stats.retry_in = round(max(0.0, self._retry_at - loop.time()), 3)
        else:
            self.stats.retry_in = None
        return self.stats.as_dict()

    def due(self) -> bool:
        """False while a failed flush waits out its backoff."""
        return asyncio.get_running_loop().time() >= self._retry_at

    async def settled(self) -> bool:
        """True when nothing is held (after flushing what is, if the backoff allows): the
        component may decide again."""
        if not self._staged:
            return True
        if not self.due():
            return False
        return await self.flush()

    async def flush(self, *, force: bool = False) -> bool:
        """Send the held records not in flight and wait for all of them; apply the staged
        decisions on success. Returns False (and counts, logs) on failure or timeout; a
        failed record is sent again by the next flush. ``force`` ignores the backoff."""
        async with self._lock:
            if not self._staged:
                return True
            if not force and not self.due():
                return False
            held = list(self._staged)  # what is staged meanwhile waits for the next flush
            try:
                # the bound covers adding too: a first add waits for the topic's metadata
                async with asyncio.timeout(self.timeout):
                    await self._send(held)
            except Exception as exc:  # noqa: BLE001 - counted, logged and retried, never lost
                self._record_failure(exc)
                return False
            self._staged = self._staged[len(held) :]
            self._failures_in_row = 0
            self._retry_at = 0.0
            self.stats.flushes += 1
            self.stats.pending_events = self.pending
        for s in held:
            if s.then is not None:
                s.then()
        return True

    async def send_commands(
        self, bus: CommandBus, commands: Sequence[Command]
    ) -> list[Outcome] | None:
        """Send the commands of one decision to their aggregates' writer and wait for every
        outcome. None when one got none (broker away, no handler answering): counted and
        logged like events the broker has not acknowledged, and the caller holds its
        decision and sends the *same* commands (same ids: decided once) when :meth:`due`.
        A refused command is logged: the aggregate's state had moved on, which the
        component's next decision sees."""
        if not commands:
            return []
        self._commands_held = len(commands)
        self.stats.pending_events = self.pending
        try:
            outcomes = list(await asyncio.gather(*(bus.send(c) for c in commands)))
        except (CommandTimeoutError, KafkaError, OSError) as exc:
            self._record_failure(exc)
            return None
        self._commands_held = 0
        self._failures_in_row = 0
        self._retry_at = 0.0
        self.stats.flushes += 1
        self.stats.pending_events = self.pending
        for command, outcome in zip(commands, outcomes, strict=True):
            if not outcome.accepted:
                log.info("%s: %s refused: %s", self.component, command.command_type, outcome.reason)
        return outcomes

    async def _send(self, held: list[_Staged]) -> None:
        futures: list[asyncio.Future[None]] = []
        for staged in held:
            for i, record in enumerate(staged.records):
                future = staged.futures[i]
                if future is None or _failed(future):  # never sent, or refused: send it (again)
                    try:
                        future = await self.sender.add(record.topic, record.value, record.key)
                    except RecordRefusedError as exc:
                        future = await self._set_aside(record, exc)
                    staged.futures[i] = future
                futures.append(future)  # in flight or acknowledged: waited for, not resent
        await self.sender.flush(futures)

    async def _set_aside(self, record: Record, exc: RecordRefusedError) -> asyncio.Future[None]:
        """An event that can never be appended as it is must not hold its component forever
        (it decides nothing new while it holds events): it is dead-lettered with the reason,
        counted, logged, and its decision applies."""
        self.stats.refused_events += 1
        self.stats.last_refused = str(exc)[:500]
        log.error("%s: an event refused by the event log is set aside: %s", self.component, exc)
        if self.dead_letter is not None:
            await self.dead_letter(self.component, record, str(exc))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def _record_failure(self, exc: BaseException) -> None:
        self._failures_in_row += 1
        delay = min(self.max_backoff, self.backoff * 2 ** (self._failures_in_row - 1))
        self._retry_at = asyncio.get_running_loop().time() + delay
        if isinstance(exc, TimeoutError) and not str(exc):
            exc = TimeoutError(f"not acknowledged within {self.timeout:g} s")
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.stats.flush_failures += 1
        self.stats.last_flush_error = error[:500]
        self.stats.last_flush_error_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.stats.pending_events = self.pending
        log.error(
            "%s: %d events not acknowledged by the broker (%s); its state is held and the "
            "same events are sent again in %.1f s (attempt %d)",
            self.component,
            self.pending,
            error,
            delay,
            self._failures_in_row + 1,
        )

    def not_acknowledged(self) -> EventsNotAcknowledgedError:
        """The error a command gets while its component's events are held."""
        return EventsNotAcknowledgedError(
            f"{self.component}: {self.pending} events are not acknowledged by the event log "
            f"({self.stats.last_flush_error or 'still in flight'}); they are kept and sent "
            "again, and what they decide takes effect once the broker has them: check "
            f"`eams status` ({self.component}.pending_events) before repeating a command"
        )


def _failed(future: asyncio.Future[None]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)

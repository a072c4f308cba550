"""The stream path of alerting: rules judged as their events arrive in ``<ns>.events``.

The projection path (:class:`~alerting.evaluator.Evaluator`) can decide nothing before
the projector has written the triggering event and the next evaluation interval has come
(p50 1.2 s of projection lag alone at 5,000 events/s). The rules whose indicator an event
gives by itself (:func:`~alerting.stream_indicators.streamed`: ``absolute`` rules on
disaster-area state and layoffs) are judged here instead, from a consumer of the log of
their own; every other rule stays on the projection path. :func:`split` decides which
path a rule takes, so each (rule, region) is judged by exactly one of them and a condition
is never two alerts.

:class:`StreamEvaluator` is an :class:`~alerting.evaluator.Evaluator` whose values come
from :class:`~alerting.stream_indicators.StreamIndicators` instead of the store: the same
``decide`` steps the same :func:`~alerting.engine.step` state machines (pending,
keep-firing, levels behave identically), and the same commands go to the alert aggregate
through the command handler, so the lifecycle, ids and notifications do not depend on the
path. In order:

1. read every partition of ``<ns>.events`` from its start to its end at that moment
   (``read_committed``: only committed events), applying the events of the streamed
   indicators and the alert lifecycle events of the rules of this path;
2. restore the firing states from those lifecycle events (``alert.raised`` …
   ``alert.resolved``, as :meth:`Evaluator.restore` reads them from the ``alerts``
   projection): an alert raised before a restart is the same alert after it;
3. then, as records arrive: apply them, and evaluate at once when one changed an
   indicator; also every ``interval`` seconds, for what time alone changes (pending and
   keep-firing periods, the 7-day window moving on). An evaluation's commands are sent
   and their outcomes awaited before the next one (:meth:`Evaluator.evaluate`).

Nothing here reads the projections, waits for the projector or polls them: a rebuild of
the projections does not pause it. The log is the only input, so the state after a
restart is the state before it (the days before the 7-day window are forgotten, and
restoring reads the log once from its start, parsing only the records of its event types).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from alerting.engine import AlertState
from alerting.errors import AlertingError
from alerting.evaluator import NAMESPACE, Evaluator, rule_of
from alerting.rules import Rule, RuleSet
from alerting.stream_indicators import StreamIndicators, relevant, streamed
from events.clock import SHANGHAI
from events.regions import RegionReference
from projections.client import Store
from projections.indicators import Values
from projections.risk_index import Component
from streams.commands import CommandBus
from streams.kafka import KafkaAccess
from streams.producer import BatchSender
from streams.topics import TopicNames
from streams.writer import EventWriter

__all__ = ["AlertReplay", "StreamEvaluator", "split"]

log = logging.getLogger(__name__)

_ALERT_MARKER = b'"alert.'
#: Records fetched at most per read (an evaluation follows each read that changed a value).
FETCH_MAX = 20_000


def split(
    *, stream: bool = True, projection_rules: Iterable[str] = ()
) -> tuple[Callable[[Rule], bool], Callable[[Rule], bool]]:
    """(on the stream path, on the projection path): two predicates that are each other's
    negation, so every rule is judged by exactly one evaluator. ``stream`` False puts every
    rule on the projection path; ``projection_rules`` (ids) keep those rules there."""
    kept = frozenset(projection_rules)

    def on_stream(rule: Rule) -> bool:
        return stream and rule.id not in kept and streamed(rule)

    def on_projection(rule: Rule) -> bool:
        return not on_stream(rule)

    return on_stream, on_projection


class AlertReplay:
    """The open alerts of some rules, folded from their lifecycle events in the log (in
    any order across partitions: each alert's own events are on one partition, in order)."""

    def __init__(self, rules: RuleSet, evaluates: Callable[[Rule], bool]) -> None:
        self.rules = rules
        self.evaluates = evaluates
        self.open: dict[str, tuple[str, str, AlertState]] = {}  # id -> (rule, region, state)
        self.closed: set[str] = set()

    def apply(self, doc: dict[str, Any]) -> None:
        """Take one decoded ``alert.*`` event."""
        event_type = doc.get("event_type")
        payload = doc.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("alert_id"), str):
            return
        alert_id = payload["alert_id"]
        if event_type == "alert.raised":
            rule = self.rules.by_id(rule_of({"rule": payload.get("rule"), "alert_id": alert_id}))
            if rule is None or not self.evaluates(rule) or alert_id in self.closed:
                return
            at = dt.datetime.fromisoformat(str(doc["occurred_at"])).astimezone(SHANGHAI)
            value = payload.get("value")
            state = AlertState(
                level=payload.get("level"),
                firing_since=at,
                value=float(value) if isinstance(value, int | float) else None,
            )
            self.open[alert_id] = (rule.id, str(doc.get("region")), state)
        elif event_type == "alert.level_changed" and alert_id in self.open:
            rule_id, region, state = self.open[alert_id]
            level = payload.get("level") or state.level
            self.open[alert_id] = (rule_id, region, AlertState(
                level=level, firing_since=state.firing_since, value=state.value))  # fmt: skip
        elif event_type == "alert.resolved":
            self.open.pop(alert_id, None)
            self.closed.add(alert_id)  # its raise may come later in the read: not reopened

    def states(self) -> dict[tuple[str, str], tuple[str, AlertState]]:
        """(rule, region) -> (alert id, state) of every open alert; where the log has more
        than one open for a (rule, region), the latest raised."""
        out: dict[tuple[str, str], tuple[str, AlertState]] = {}
        for alert_id, (rule_id, region, state) in self.open.items():
            key = (rule_id, region)
            held = out.get(key)
            since = state.firing_since
            if held is None or (since is not None and since > (held[1].firing_since or since)):
                out[key] = (alert_id, state)
        return out


class StreamEvaluator(Evaluator):
    """Judges the streamed rules as their events arrive (see the module docstring)."""

    def __init__(
        self,
        *,
        kafka: KafkaAccess,
        store: Store,
        reference: RegionReference,
        rules: RuleSet,
        components: tuple[Component, ...],
        sender: BatchSender,
        topic_names: TopicNames,
        commands: CommandBus | None = None,
        evaluates: Callable[[Rule], bool] = streamed,
        interval: float = 2.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
    ) -> None:
        super().__init__(
            store=store,
            reference=reference,
            rules=rules,
            components=components,
            sender=sender,
            topic_names=topic_names,
            interval=interval,
            now=now,
            commands=commands,
            evaluates=evaluates,
        )
        self.kafka = kafka
        self.indicators = StreamIndicators(reference)
        self.writer = EventWriter(
            sender,
            "stream-evaluator",
            topics=topic_names,
            namespace=NAMESPACE,
            actor="eams.alerting",
            now=lambda: self.now(),
        )
        # the indicators this path's rules judge: a change of another one needs no evaluation
        self._judged = frozenset(r.indicator for r in self.own_rules)
        self.ready = False  # the log was read to its end and the alerts restored
        self.replayed = 0  # records read before ready
        self.restored = 0

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows: the evaluator's figures, how many rules this path
        judges, whether it is ready (restored) and how many records the restore read."""
        return super().status() | {
            "ready": self.ready,
            "replayed": self.replayed,
            "restored": self.restored,
        }

    async def indicator_values(self, now: dt.datetime) -> Values:
        """The streamed indicators as of ``now`` (no derived series: only ``absolute``
        rules come here)."""
        return self.indicators.values(now.astimezone(SHANGHAI).date())

    def take(self, record: ConsumerRecord[bytes, bytes], alerts: AlertReplay | None) -> bool:
        """Apply one record of the log; True when it changed an indicator a rule of this
        path judges. ``alerts`` (while restoring) also takes the lifecycle events."""
        value = record.value or b""
        ours = relevant(value)
        lifecycle = alerts is not None and _ALERT_MARKER in value
        if not (ours or lifecycle):
            return False
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            return False  # the projector parks it; it counts nowhere
        if not isinstance(doc, dict):
            return False
        if lifecycle and alerts is not None and str(doc.get("event_type", "")).startswith("alert."):
            alerts.apply(doc)
            return False
        return bool(self.indicators.apply(doc, record.partition, record.offset) & self._judged)

    async def restore(self) -> int:
        """Nothing to read from the projections: :meth:`run` restores from the log."""
        return self.restored

    async def run(self, stop: asyncio.Event, caught_up: Callable[[], bool] | None = None) -> None:
        """Restore from the log, then judge as the events arrive until ``stop``.
        ``caught_up`` (the projector's) is not waited for: this path does not read the
        projections."""
        if not self.own_rules:
            log.info("stream evaluator: no rule on the stream path")
            return
        consumer = AIOKafkaConsumer(
            **self.kafka.client_options(),
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            await self._restore_from_log(consumer, stop)
            await self._follow(consumer, stop)
        finally:
            await consumer.stop()

    async def _restore_from_log(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Steps 1 and 2: read every partition to its end at the start, then restore."""
        cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - metadata only
        parts = sorted(cluster.partitions_for_topic(self.topics.events) or ())
        if not parts:
            raise AlertingError(
                f"topic {self.topics.events} has no partitions; `eams run` creates it"
            )
        tps = [TopicPartition(self.topics.events, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        alerts = AlertReplay(self.rules, self._evaluates)
        began = time.monotonic()
        left = {tp for tp in tps if ends[tp] > 0}
        while left and not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=200, max_records=FETCH_MAX)
            for records in fetched.values():
                for record in records:
                    self.take(record, alerts)
                self.replayed += len(records)
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        for (rule_id, region), (alert_id, state) in alerts.states().items():
            self.alert_ids[(rule_id, region)] = alert_id
            self.states[(rule_id, region)] = state
        self.restored = len(alerts.states())
        self.ready = True
        log.info(
            "stream evaluator: %d records read in %.1f s, %d firing alerts restored, %d rules",
            self.replayed,
            time.monotonic() - began,
            self.restored,
            len(self.own_rules),
        )

    def _evaluates(self, rule: Rule) -> bool:
        return self.evaluates is None or self.evaluates(rule)

    async def _follow(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Step 3: apply records as they arrive, evaluating at once on a change and every
        ``interval`` seconds."""
        due = 0.0  # the first evaluation comes at once: the restored states meet the values
        while not stop.is_set():
            wait = max(0.0, due - time.monotonic())
            fetched = await consumer.getmany(timeout_ms=int(wait * 1000), max_records=FETCH_MAX)
            changed = False
            for records in fetched.values():
                for record in records:
                    changed = self.take(record, None) or changed
            if not changed and time.monotonic() < due:
                continue
            try:
                await self.evaluate(self.now())
            except Exception:  # noqa: BLE001 - one bad cycle must not stop monitoring
                log.exception("stream evaluation failed; retrying")
            due = time.monotonic() + self.interval

"""The evaluator: indicators -> rules -> alert lifecycle events in the event log.

Every ``interval`` seconds, in the process that owns the projections:

1. compute every indicator for every region (:mod:`projections.indicators`), the composite
   risk index, and the reporting gaps of data-gap rules;
2. step each (rule, region) state machine (:mod:`alerting.engine`) on a copy of the states
   (:meth:`Evaluator.decide` is pure: it returns the next states and what fired);
3. turn transitions into ``alert.raise`` / ``alert.change_level`` / ``alert.resolve``
   commands, decided by the alert aggregate (:mod:`alerting.lifecycle`) behind the command
   handler (:mod:`streams.commands`), which appends the events; they are sent through the
   evaluator's :class:`~streams.writer.EventWriter` (``send_commands``);
4. only once every command has its outcome:
   adopt the new states, count the tick (``ticks`` in ``/api/status``) and hand the
   transitions to the notification stage.

When the commands get no outcome (broker down, no handler answering), the states stay as
they were, the failure is logged and counted (``flush_failures``, ``last_flush_error``,
``pending_events``), and the next cycles send the *same* commands again, with the
writer's backoff (ids from (alert, transition, level, time): a command is decided at most
once) before anything new is evaluated: an ``alert.raised`` is never lost to a transient
broker error, nor doubled.

One condition is one alert, whatever the restarts: before its first evaluation the
evaluator waits until the projector has caught up with the log, then restores the firing
alerts from the ``alerts`` projection; command ids are derived from (alert, transition,
level, time), so a transition sent again after a restart is decided once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alerting.engine import AlertState, Transition, step
from alerting.rules import Rule, RuleSet
from alerting.series import IndicatorHistory, rule_values
from events.clock import SHANGHAI
from events.commands import Command
from events.regions import RegionReference
from projections import alert_queries
from projections.client import Store, run
from projections.indicators import SUMMED, Values
from projections.risk_index import Component
from streams.commands import CommandBus
from streams.producer import BatchSender
from streams.topics import TopicNames
from streams.writer import EventWriter

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("0b7f4f0e-6a9d-4c55-9d4e-0a1c2b3d4e5f")
#: Indicators that are zero where nothing happened (others are None: no data).
ZERO_WHEN_ABSENT = frozenset(SUMMED) | {"disaster_area", "risk_index"}


@dataclass(frozen=True)
class Decision:
    """What one evaluation decided: the next states and alert ids, and what fired."""

    states: dict[tuple[str, str], AlertState]
    alert_ids: dict[tuple[str, str], str]
    fired: list[Fired]
    values: Values


@dataclass(frozen=True)
class Fired:
    """A transition with everything the notification stage needs."""

    alert_id: str
    rule: Rule
    region: str
    transition: Transition


def scope_regions(rule: Rule, reference: RegionReference) -> list[str]:
    """The region codes a rule watches."""
    scope = rule.scope
    if scope.regions:
        return list(scope.regions)
    if scope.level == "province":
        return [reference.root().code]
    if scope.level == "city":
        cities = [c.code for c in reference.cities()]
        return [c for c in cities if scope.within in (None, c)]
    under = scope.within
    return [
        c.code
        for c in reference.counties()
        if under is None or under in [a.code for a in reference.ancestors(c.code)]
    ]


class Evaluator:
    """Evaluates the rules periodically and appends alert events."""

    def __init__(
        self,
        *,
        store: Store,
        reference: RegionReference,
        rules: RuleSet,
        components: tuple[Component, ...],
        sender: BatchSender,
        topic_names: TopicNames,
        interval: float = 2.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
        commands: CommandBus | None = None,
        evaluates: Callable[[Rule], bool] | None = None,
    ) -> None:
        self.store = store
        #: Which rules this evaluator decides (every rule if None): each rule is decided by
        #: exactly one evaluator (:func:`alerting.stream.streamed` splits them), so one
        #: condition is never two alerts.
        self.evaluates = evaluates
        self.commands = commands
        self._held: Decision | None = None  # decided, its commands not answered yet
        self.reference = reference
        self.rules = rules
        self.components = components
        self.sender = sender
        self.topics = topic_names
        self.interval = interval
        self.now = now
        self.states: dict[tuple[str, str], AlertState] = {}
        self.alert_ids: dict[tuple[str, str], str] = {}
        self.values: Values = {}
        self.evaluations = 0
        self.listeners: list[Callable[[Sequence[Fired]], Awaitable[None]]] = []
        self.history = IndicatorHistory(store, reference, components)
        self.writer = EventWriter(
            sender,
            "evaluator",
            topics=topic_names,
            namespace=NAMESPACE,
            actor="eams.alerting",
            now=lambda: self.now(),
        )
        self._announce: list[Fired] = []  # applied, not yet handed to the listeners

    @property
    def own_rules(self) -> tuple[Rule, ...]:
        """The rules this evaluator decides (see ``evaluates``), in file order."""
        if self.evaluates is None:
            return self.rules.rules
        return tuple(r for r in self.rules.rules if self.evaluates(r))

    @property
    def outbox(self) -> EventWriter:
        """The writer, by the name the host sets its dead-letter hook through."""
        return self.writer

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows: ticks (evaluations whose events are in the log), the
        health of the appends (see :class:`~streams.writer.FlushStats`) and how many rules
        this evaluator judges."""
        return self.writer.status() | {
            "evaluations": self.evaluations,
            "rules": len(self.own_rules),
        }

    def open_alerts(self) -> list[tuple[str, Rule, str, str]]:
        """(alert id, rule, region, level) of every alert firing now."""
        out: list[tuple[str, Rule, str, str]] = []
        for (rule_id, region), alert_id in self.alert_ids.items():
            state = self.states.get((rule_id, region))
            rule = self.rules.by_id(rule_id)
            if state is not None and state.level is not None and rule is not None:
                out.append((alert_id, rule, region, state.level))
        return out

    async def restore(self) -> int:
        """Rebuild the firing states from the alerts projection; returns how many."""
        rows = await run(alert_queries.list_alerts, self.store, self.now(), status="open")
        restored = 0
        for row in rows:
            rule = self.rules.by_id(rule_of(row))
            if rule is None or (self.evaluates is not None and not self.evaluates(rule)):
                continue
            key = (rule.id, row["region"])
            self.alert_ids[key] = row["alert_id"]
            self.states[key] = AlertState(
                level=row["level"],
                pending_level=None,
                pending_since=None,
                clear_since=None,
                firing_since=row["firing_since"],
                value=row["value"],
            )
            restored += 1
        return restored

    async def run(self, stop: asyncio.Event, caught_up: Callable[[], bool]) -> None:
        """Wait for the projector to catch up, restore, then evaluate until ``stop``."""
        while not caught_up() and not stop.is_set():
            await asyncio.sleep(0.1)
        restored = await self.restore()
        log.info("evaluator: %d firing alerts restored", restored)
        while not stop.is_set():
            if not caught_up():  # a rebuild is replaying: the projections are partial
                await asyncio.sleep(0.1)
                continue
            try:
                await self.evaluate(self.now())
            except Exception:  # noqa: BLE001 - one bad cycle must not stop monitoring
                log.exception("evaluation failed; retrying next cycle")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def indicator_values(self, now: dt.datetime) -> Values:
        """Every indicator as of ``now``, plus one series per rule whose kind derives its
        value (key ``rule:<id>``): see :mod:`alerting.series`."""
        return await run(rule_values, self.own_rules, now, self.history)

    async def evaluate(self, now: dt.datetime) -> list[Fired]:
        """One evaluation cycle; returns what fired, changed level or resolved (empty while
        the events of an earlier cycle still wait for the broker: they are sent again first,
        and nothing new is evaluated until they are acknowledged)."""
        if self.commands is None:
            raise RuntimeError("the evaluator evaluates with a command bus (decide() needs none)")
        decision = self._held or self.decide(await self.indicator_values(now), now)
        if not await self._send(decision):
            return []
        self.writer.stats.ticks += 1
        fired, self._announce = self._announce, []
        for listener in self.listeners:
            try:
                await listener(fired)
            except Exception:  # noqa: BLE001 - one stage failing must not starve the others
                log.exception("a listener of the evaluator failed on %d transitions", len(fired))
        return fired

    def decide(self, values: Values, now: dt.datetime) -> Decision:
        """Step every (rule, region) on ``values`` as of ``now``; pure: the evaluator's own
        states are not touched (see :meth:`_apply`)."""
        states = dict(self.states)
        alert_ids = dict(self.alert_ids)
        fired: list[Fired] = []
        for rule in self.own_rules:
            derived = f"rule:{rule.id}"
            per_region = values.get(derived, values.get(rule.indicator, {}))
            plain = derived not in values and rule.indicator in ZERO_WHEN_ABSENT
            absent = 0.0 if plain else None
            for region in scope_regions(rule, self.reference):
                key = (rule.id, region)
                state = states.get(key, AlertState.initial())
                value = per_region.get(region, absent)
                new_state, transitions = step(rule, state, value, now)
                states[key] = new_state
                for t in transitions:
                    if t.kind == "pending":
                        continue
                    if t.kind == "raised":
                        alert_ids[key] = alert_id_for(rule.id, region, t.at)
                    alert_id = alert_ids.get(key)
                    if alert_id is None:
                        continue
                    fired.append(Fired(alert_id, rule, region, t))
                    if t.kind == "resolved":
                        alert_ids.pop(key, None)
        return Decision(states, alert_ids, fired, values)

    async def _send(self, decision: Decision) -> bool:
        """Send the decision's commands through the writer; adopt the decision once each
        has its outcome (held, and sent again when due, until then)."""
        assert self.commands is not None
        self._held = decision
        if not self.writer.due():
            return False
        commands = [self.command(f) for f in decision.fired]
        if await self.writer.send_commands(self.commands, commands) is None:
            return False
        self._held = None
        self._apply(decision)
        return True

    def command(self, f: Fired) -> Command:
        """The alert command of one transition; its id is derived from (alert, transition,
        level, time), so sending it again is decided once."""
        assert self.commands is not None
        t = f.transition
        at = t.at.isoformat()
        payload: dict[str, Any]
        if t.kind == "raised":
            kind = "alert.raise"
            payload = {
                "rule": f.rule.id,
                "region": f.region,
                "level": t.level,
                "indicator": f.rule.indicator,
                "value": t.value,
                "threshold": t.threshold,
                "summary": self.summary(f),
                "at": at,
            }
        elif t.kind in ("level_raised", "level_lowered"):
            kind = "alert.change_level"
            payload = {"level": t.level, "value": t.value, "threshold": t.threshold, "at": at}
        else:
            kind = "alert.resolve"
            payload = {"automatic": True, "resolution": f"指标回落 value {_num(t.value)}", "at": at}
        return self.commands.command(
            kind,
            f.alert_id,
            actor="eams.alerting",
            source="eams.alerting",
            payload={k: v for k, v in payload.items() if v is not None},
            command_id=uuid.uuid5(NAMESPACE, f"{f.alert_id}|{t.kind}|{t.level}|{at}"),
        )

    def summary(self, f: Fired) -> str:
        """The one-line summary of a raised alert (region name, rule title, value)."""
        t = f.transition
        region = self.reference.get(f.region)
        name = region.name if region else f.region
        return f"{name} {f.rule.title}: {_num(t.value)}（阈值 {_num(t.threshold)}）"

    def _apply(self, decision: Decision) -> None:
        """Adopt a decision whose events the broker acknowledged."""
        self.states = decision.states
        self.alert_ids = decision.alert_ids
        self.values = decision.values
        self.evaluations += 1
        self._announce.extend(decision.fired)


def rule_of(row: dict[str, Any]) -> str:
    """The rule of an alert row of the projection. The alert id begins with it
    (:func:`alert_id_for`): the projection's ``rule`` can read empty for an alert whose later
    events (acknowledged, silenced) carry none, and a restart must not take it for another."""
    return str(row["rule"] or row["alert_id"].rsplit(":", 2)[0])


def alert_id_for(rule_id: str, region: str, at: dt.datetime) -> str:
    """A stable id of one alert: the rule, the region and when it started firing."""
    return f"{rule_id}:{region}:{at.astimezone(SHANGHAI).strftime('%Y%m%dT%H%M%S')}"[:64]


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
